import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import { useFakeClock } from '../support/clock.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

/**
 * Model-based test of one session's refresh-token rotation (API.md checks 3, 5 and 7, RFC 9700 §4.14.2): random
 * interleavings of refreshes, lost answers and their retries, racing duplicates, a stale tab's previous token,
 * replays of older tokens, logout, logout-all and the clock moving, run against the real service and against
 * a small reference model (current, previous, grace window, revoked). After every step the service's answers
 * and its stored session must agree with the model, and a client that always keeps the newest pair it
 * received (retrying a lost answer within the grace window, as the SDK does) is never logged out by anything
 * but a logout or a replay.
 *
 * Seeded and bounded for `npm test`; `MODEL_RUNS=500 npx vitest run test/integration/refresh-model.test.ts`
 * runs longer, `MODEL_SEED=<n>` replays another seed.
 */
const GRACE = 10;
const RUNS = Number(process.env.MODEL_RUNS ?? 10);
const SEED = Number(process.env.MODEL_SEED ?? 20261129);
const MAX_COMMANDS = 24;

let service: TestService;
beforeAll(async () => {
  service = await startTestService({
    REFRESH_REUSE_GRACE: String(GRACE),
    // Lifetimes far beyond any run's clock steps: expiry is not what this test is about.
    ACCESS_TOKEN_TTL: '3600',
    REFRESH_TOKEN_TTL: '7200',
  });
});
afterAll(() => service.close());
const clock = useFakeClock();
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The reference model of one session. Tokens are named by generation: 0 is the login's, each rotation adds one. */
interface SessionModel {
  /** The generation of the session's current refresh token. */
  current: number;
  /** Epoch seconds of the rotation that made `current` current (the grace window starts there). */
  rotatedAt: number;
  revoked: boolean;
  /** The generation of the newest pair the honest client received (it keeps nothing older). */
  kept: number;
  /** Whether the honest client has a refresh in flight whose answer it lost (it will retry within grace). */
  retryOwed: boolean;
}

/** What the model says presenting generation `g` as the refresh token gets. */
type Outcome =
  | { kind: 'rotated' } // 200 with a new pair, generation current + 1
  | { kind: 'reissued'; generation: number } // 200 with that generation's pair again, nothing written
  | { kind: 'reused' } // 401 refresh_token_reused, the session revoked
  | { kind: 'revoked' }; // 401 session_revoked

function present(model: SessionModel, generation: number, now: number): Outcome {
  if (model.revoked) return { kind: 'revoked' };
  if (generation === model.current) return { kind: 'rotated' };
  if (generation === model.current - 1 && now - model.rotatedAt <= GRACE)
    return { kind: 'reissued', generation: model.current };
  return { kind: 'reused' };
}

/** Applies an outcome to the model. */
function apply(model: SessionModel, outcome: Outcome, now: number): void {
  if (outcome.kind === 'rotated') {
    model.current += 1;
    model.rotatedAt = now;
  } else if (outcome.kind === 'reused') model.revoked = true;
}

/** The real side: the service, the session's issued pairs by generation, and the honest client's pair. */
interface Real {
  pairs: { accessToken: string; refreshToken: string }[];
  sid: string;
}

type Answer = Awaited<ReturnType<TestService['post']>>;
const refreshWith = (refreshToken: string) => service.post('/auth/refresh', { refreshToken });

/** Checks one answer against the model's outcome, records a new pair, and returns the pair's generation. */
function expectAnswer(real: Real, outcome: Outcome, answer: Answer, what: string): number | undefined {
  switch (outcome.kind) {
    case 'rotated': {
      expect(answer.status, `${what}: ${answer.text}`).toBe(200);
      expect(real.pairs.map((p) => p.refreshToken)).not.toContain(answer.json.refreshToken);
      real.pairs.push({ accessToken: answer.json.accessToken, refreshToken: answer.json.refreshToken });
      return real.pairs.length - 1;
    }
    case 'reissued': {
      expect(answer.status, `${what}: ${answer.text}`).toBe(200);
      // The very pair that rotation issued, not a new one.
      expect(answer.json.refreshToken).toBe(real.pairs[outcome.generation]?.refreshToken);
      expect(answer.json.accessToken).toBe(real.pairs[outcome.generation]?.accessToken);
      return outcome.generation;
    }
    case 'reused':
      expect([answer.status, answer.json?.error], what).toEqual([401, 'refresh_token_reused']);
      return undefined;
    case 'revoked':
      expect([answer.status, answer.json?.error], what).toEqual([401, 'session_revoked']);
      return undefined;
  }
}

type SessionCommand = fc.AsyncCommand<SessionModel, Real>;

/** The honest client refreshes with the newest pair it holds (after a lost answer, that is its retry). */
class Refresh implements SessionCommand {
  check = () => true;
  async run(model: SessionModel, real: Real) {
    const now = nowSeconds();
    const outcome = present(model, model.kept, now);
    expect(outcome.kind, 'the honest client is never taken for a replay').not.toBe('reused');
    const answer = await refreshWith(real.pairs[model.kept]?.refreshToken as string);
    const generation = expectAnswer(real, outcome, answer, 'honest refresh');
    apply(model, outcome, now);
    if (generation !== undefined) {
      model.kept = generation;
      model.retryOwed = false;
    }
  }
  toString = () => 'refresh';
}

/** The honest client refreshes, the service acts, and the answer is lost: the client keeps what it had. */
class LoseAnswer implements SessionCommand {
  check = () => true;
  async run(model: SessionModel, real: Real) {
    const now = nowSeconds();
    const outcome = present(model, model.kept, now);
    expect(outcome.kind, 'the honest client is never taken for a replay').not.toBe('reused');
    const answer = await refreshWith(real.pairs[model.kept]?.refreshToken as string);
    const generation = expectAnswer(real, outcome, answer, 'refresh whose answer is lost');
    apply(model, outcome, now);
    if (generation !== undefined) model.retryOwed = true;
  }
  toString = () => 'refresh, answer lost';
}

/** `count` refreshes with the honest client's pair at once (racing tabs): one rotation, one pair for all. */
class RacingRefreshes implements SessionCommand {
  readonly count: number;
  constructor(count: number) {
    this.count = count;
  }
  check = () => true;
  async run(model: SessionModel, real: Real) {
    const now = nowSeconds();
    const token = real.pairs[model.kept]?.refreshToken as string;
    const answers = await Promise.all(Array.from({ length: this.count }, () => refreshWith(token)));
    const outcome = present(model, model.kept, now);
    expect(outcome.kind, 'the honest client is never taken for a replay').not.toBe('reused');
    const generation = expectAnswer(real, outcome, answers[0] as Answer, 'racing refresh');
    apply(model, outcome, now);
    // Every racer got what the first did: the one rotation's pair (or the same refusal).
    for (const answer of answers.slice(1)) {
      if (generation === undefined) expect(answer.status).toBe(401);
      else expectAnswer(real, { kind: 'reissued', generation }, answer, 'racing refresh');
    }
    if (generation !== undefined) {
      model.kept = generation;
      model.retryOwed = false;
    }
  }
  toString = () => `${this.count} racing refreshes`;
}

/** A stale tab (or a thief) presents the token just before the current one: a retry in grace, else a replay. */
class PresentPrevious implements SessionCommand {
  check = (model: Readonly<SessionModel>) => model.current >= 1;
  async run(model: SessionModel, real: Real) {
    const now = nowSeconds();
    const generation = model.current - 1;
    const outcome = present(model, generation, now);
    const answer = await refreshWith(real.pairs[generation]?.refreshToken as string);
    expectAnswer(real, outcome, answer, 'previous token');
    apply(model, outcome, now);
  }
  toString = () => 'previous token presented';
}

/** A replay of a token older than the previous one: always reuse, whatever the clock says. */
class ReplayOlder implements SessionCommand {
  readonly pick: number;
  constructor(pick: number) {
    this.pick = pick;
  }
  check = (model: Readonly<SessionModel>) => model.current >= 2;
  async run(model: SessionModel, real: Real) {
    const now = nowSeconds();
    const generation = this.pick % (model.current - 1);
    const outcome = present(model, generation, now);
    expect(outcome.kind === 'reused' || outcome.kind === 'revoked').toBe(true);
    const answer = await refreshWith(real.pairs[generation]?.refreshToken as string);
    expectAnswer(real, outcome, answer, `replay of generation ${generation}`);
    apply(model, outcome, now);
  }
  toString = () => `replay of an older token (${this.pick})`;
}

class Logout implements SessionCommand {
  check = () => true;
  async run(model: SessionModel, real: Real) {
    const answer = await service.post('/auth/logout', undefined, {
      authorization: `Bearer ${real.pairs[model.kept]?.accessToken}`,
    });
    expect(answer.status).toBe(204);
    model.revoked = true;
  }
  toString = () => 'logout';
}

class LogoutAll implements SessionCommand {
  check = () => true;
  async run(model: SessionModel, real: Real) {
    const answer = await service.post('/auth/logout-all', undefined, {
      authorization: `Bearer ${real.pairs[model.kept]?.accessToken}`,
    });
    if (model.revoked) expect([answer.status, answer.json?.error]).toEqual([401, 'session_revoked']);
    else expect(answer.status).toBe(204);
    model.revoked = true;
  }
  toString = () => 'logout-all';
}

/**
 * Time passes. While the honest client owes a retry it makes it within the grace window (the SDK retries at
 * once, its attempts time out well within it), so the clock then moves only as far as the window allows.
 */
class AdvanceClock implements SessionCommand {
  readonly seconds: number;
  constructor(seconds: number) {
    this.seconds = seconds;
  }
  check = (model: Readonly<SessionModel>) =>
    !model.retryOwed || model.revoked || nowSeconds() + this.seconds - model.rotatedAt <= GRACE;
  async run() {
    clock.advance(this.seconds);
  }
  toString = () => `+${this.seconds} s`;
}

/** Time passes exactly to the last second of the grace window (`beyond` 0) or the first second after it (1). */
class ToGraceEdge implements SessionCommand {
  readonly beyond: number;
  constructor(beyond: number) {
    this.beyond = beyond;
  }
  #target = (model: Readonly<SessionModel>) => model.rotatedAt + GRACE + this.beyond;
  check = (model: Readonly<SessionModel>) =>
    this.#target(model) > nowSeconds() && (!model.retryOwed || model.revoked || this.beyond === 0);
  async run(model: SessionModel) {
    clock.advance(this.#target(model) - nowSeconds());
  }
  toString = () => (this.beyond === 0 ? 'to the last second of grace' : 'to the first second after grace');
}

/** How often the grace window's edges were probed with the previous token on a live session: [last second, first after]. */
const edgeProbes = [0, 0];

/**
 * The grace window's edges, probed: time passes exactly to the window's last second (`beyond` 0: the previous
 * token is answered again) or to the first second after it (1: the previous token is a replay, the session is
 * revoked), and the previous token is presented there. A window one second wider or narrower is caught here.
 */
class PreviousAtGraceEdge implements SessionCommand {
  readonly beyond: number;
  constructor(beyond: number) {
    this.beyond = beyond;
  }
  #target = (model: Readonly<SessionModel>) => model.rotatedAt + GRACE + this.beyond;
  check = (model: Readonly<SessionModel>) =>
    model.current >= 1 &&
    !model.revoked &&
    this.#target(model) >= nowSeconds() &&
    (!model.retryOwed || this.beyond === 0);
  async run(model: SessionModel, real: Real) {
    clock.advance(this.#target(model) - nowSeconds());
    const now = nowSeconds();
    const generation = model.current - 1;
    const outcome = present(model, generation, now);
    expect(outcome.kind).toBe(this.beyond === 0 ? 'reissued' : 'reused');
    const answer = await refreshWith(real.pairs[generation]?.refreshToken as string);
    expectAnswer(real, outcome, answer, `previous token at grace + ${this.beyond} s`);
    apply(model, outcome, now);
    edgeProbes[this.beyond] = (edgeProbes[this.beyond] ?? 0) + 1;
  }
  toString = () =>
    this.beyond === 0
      ? 'previous token at the last second of grace'
      : 'previous token one second after grace';
}

/** After every step: the stored session is the model's, and the honest client's pair works unless revoked. */
async function expectAgreement(model: SessionModel, real: Real): Promise<void> {
  const item = await service.storedItem(`session#${real.sid}`);
  // Dead in the store: revoked itself, or left behind by a whole-user revocation (logout-all moves the user to
  // its next generation and writes no session).
  const account = await service.storedItem(`account#${item?.userId}`);
  const dead = Boolean(item?.revoked) || (item?.generation ?? 0) !== (account?.generation ?? 0);
  expect(dead).toBe(model.revoked);
  if (!model.revoked) {
    expect(item?.refreshHash).toBe(hashRefreshToken(real.pairs[model.current]?.refreshToken as string));
    if (model.current >= 1)
      expect(item?.previousRefreshHash).toBe(
        hashRefreshToken(real.pairs[model.current - 1]?.refreshToken as string),
      );
    expect(item?.rotatedAt).toBe(model.rotatedAt);
    // Never logged out: it holds the newest pair, or the one just before while its retry is owed.
    expect(model.kept).toBe(model.retryOwed ? model.current - 1 : model.current);
  }
  const me = await service.me(real.pairs[model.kept]?.accessToken as string);
  expect(me.status).toBe(model.revoked ? 401 : 200);
}

// Weighted so that the steps that end a session (logout, logout-all, a replay) come rarely enough for runs
// to reach deep rotations, lost answers and the grace window's edges first.
const command: fc.Arbitrary<SessionCommand> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(new Refresh()) },
  { weight: 6, arbitrary: fc.constant(new LoseAnswer()) },
  { weight: 3, arbitrary: fc.integer({ min: 2, max: 6 }).map((count) => new RacingRefreshes(count)) },
  { weight: 5, arbitrary: fc.constant(new PresentPrevious()) },
  { weight: 1, arbitrary: fc.nat(20).map((pick) => new ReplayOlder(pick)) },
  { weight: 1, arbitrary: fc.constant(new Logout()) },
  { weight: 1, arbitrary: fc.constant(new LogoutAll()) },
  {
    weight: 4,
    arbitrary: fc.integer({ min: 1, max: 2 * GRACE }).map((seconds) => new AdvanceClock(seconds)),
  },
  { weight: 4, arbitrary: fc.constantFrom(0, 1).map((beyond) => new ToGraceEdge(beyond)) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1).map((beyond) => new PreviousAtGraceEdge(beyond)) },
);

let runCount = 0;
describe('refresh rotation against a reference model', () => {
  it('agrees with the model after every step, and never logs out a client that keeps the newest pair', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands([command], { maxCommands: MAX_COMMANDS, size: 'max' }), async (cmds) => {
        runCount += 1;
        const username = `model-${runCount}`;
        const login = await service.signUp(username, DEFAULT_PASSWORD);
        const real: Real = { pairs: [login], sid: claimsOf(login.accessToken).sid };
        const model: SessionModel = {
          current: 0,
          rotatedAt: nowSeconds(),
          revoked: false,
          kept: 0,
          retryOwed: false,
        };
        await fc.asyncModelRun(
          () => ({ model, real }),
          [...cmds].map((command) => ({
            check: (m: Readonly<SessionModel>) => command.check(m),
            run: async (m: SessionModel, r: Real) => {
              await command.run(m, r);
              await expectAgreement(m, r);
            },
            toString: () => command.toString(),
          })),
        );
      }),
      // No shrinking (each replay signs up afresh): bounded time; the failing sequence is printed as it ran.
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // Coverage, whatever the seed: both edges of the grace window were probed on a live session.
    expect(edgeProbes[0], 'previous token at the last second of grace').toBeGreaterThan(0);
    expect(edgeProbes[1], 'previous token one second after grace').toBeGreaterThan(0);
  }, 600_000);
});
