import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observe } from '../../bench/request-counter.ts';
import { clientAddressKey, NAME_FAILURES_PER_HOUR } from '../../lib/store/lockout-policy.ts';
import { useFakeClock } from '../support/clock.ts';
import { functionClients } from '../support/sdk-middleware.ts';
import { DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

// API.md "Brute force": every rule below is driven over HTTP from real, distinct client
// addresses (API Gateway's sourceIp, which the gateway hands to the functions).
const MAX_FAILURES = 5;
const LOCKOUT_BASE = 30;
const LOCKOUT_MAX = 600;
const WINDOW = 900;
const ADDRESS_MAX_FAILURES = 12;

let service: TestService;
beforeAll(async () => {
  service = await startTestService({
    LOGIN_MAX_FAILURES: String(MAX_FAILURES),
    LOGIN_LOCKOUT_BASE: String(LOCKOUT_BASE),
    LOGIN_LOCKOUT_MAX: String(LOCKOUT_MAX),
    LOGIN_FAILURE_WINDOW: String(WINDOW),
    LOGIN_ADDRESS_MAX_FAILURES: String(ADDRESS_MAX_FAILURES),
  });
});
afterAll(() => service.close());
const clock = useFakeClock();

let used = 0;
/**
 * A client address (IPv4, or IPv6 in a /64 of its own: addresses are counted per /64) from the documentation
 * ranges, that no other test has used.
 */
function freshAddress(): string {
  used += 1;
  return used % 2 === 0
    ? `198.51.${100 + Math.floor(used / 250)}.${used % 250}`
    : `2001:db8:${used.toString(16)}::${used.toString(16)}`;
}
const freshName = (prefix: string) => `${prefix}-${used}-${Math.random().toString(36).slice(2, 8)}`;

interface Answer {
  status: number;
  retryAfter: number | undefined;
}

/** `POST /auth/login` as API Gateway passes it on from a client at `address` (its `sourceIp`). */
async function loginFrom(address: string, username: string, password: string): Promise<Answer> {
  const response = await service.request('POST', '/auth/login', {
    body: { username, password },
    sourceIp: address,
  });
  const header = response.headers.get('retry-after');
  return { status: response.status, retryAfter: header === null ? undefined : Number(header) };
}

const register = async (username: string) =>
  expect((await service.post('/auth/register', { username, password: DEFAULT_PASSWORD })).status).toBe(201);
const wrong = (i: number) => `wrong guess number ${i}`;
const statuses = (answers: Answer[]) => answers.map((answer) => answer.status);
const count = (answers: Answer[], status: number) =>
  answers.filter((answer) => answer.status === status).length;

/** Every refusal is a 429 with a Retry-After of at least one second. */
function expectRefusalsWellFormed(answers: Answer[]) {
  for (const answer of answers) {
    if (answer.status === 429) expect(answer.retryAfter).toBeGreaterThanOrEqual(1);
  }
}

describe('concurrent guesses for one name', () => {
  it('20 wrong guesses at once, then the right password: at most LOGIN_MAX_FAILURES are checked and the name is locked', async () => {
    const name = freshName('burst');
    await register(name);
    const attacker = freshAddress();
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) => loginFrom(attacker, name, wrong(i))),
    );
    expect(count(burst, 401)).toBe(MAX_FAILURES);
    expect(count(burst, 429)).toBe(20 - MAX_FAILURES);
    expectRefusalsWellFormed(burst);
    // Counted exactly, by atomic adds: every check that happened is on record.
    const item = await service.storedItem(`user#${name}`);
    expect(item?.hourCount).toBe(MAX_FAILURES);
    expect(item?.pairs?.[clientAddressKey(attacker)]?.f).toBe(MAX_FAILURES);
    const right = await loginFrom(attacker, name, DEFAULT_PASSWORD);
    expect(right.status).toBe(429);
    expect(right.retryAfter).toBe(LOCKOUT_BASE);
  });

  it.each([
    [4, 1],
    [9, 1],
    [19, 1],
  ])(
    'of %i wrong guesses and the right one in one burst, at most LOGIN_MAX_FAILURES wrong ones are checked',
    async (wrongs, rights) => {
      const name = freshName('mixed');
      await register(name);
      const from = freshAddress();
      const guesses = [
        ...Array.from({ length: wrongs }, (_, i) => wrong(i)),
        ...Array.from({ length: rights }, () => DEFAULT_PASSWORD),
      ];
      const answers = await Promise.all(guesses.map((password) => loginFrom(from, name, password)));
      // The right password takes no failure slot: only wrong guesses are limited (a success frees its slot).
      expect(count(answers, 401)).toBeLessThanOrEqual(MAX_FAILURES);
      expect(count(answers, 200)).toBeLessThanOrEqual(rights);
      expect(count(answers, 401) + count(answers, 200) + count(answers, 429)).toBe(guesses.length);
      expectRefusalsWellFormed(answers);
      // A burst no larger than the limit is checked whole, the right password included.
      if (guesses.length <= MAX_FAILURES) expect(count(answers, 200)).toBe(rights);
    },
  );

  it('checks at most LOGIN_MAX_FAILURES of any burst (5..40 guesses), fresh or previously failed, and counts every check', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 5, max: 40 }),
        fc.boolean(),
        fc.integer({ min: 0, max: MAX_FAILURES + 2 }),
        fc.integer({ min: 0, max: MAX_FAILURES - 1 }),
        fc.boolean(),
        async (size, registered, staleFailures, recentFailures, recentFromAttacker) => {
          const name = freshName('prop');
          if (registered) await register(name);
          const attacker = freshAddress();
          const other = freshAddress();
          // Failures long enough ago that their window and any lock have passed, from the attacker's address...
          for (let i = 0; i < staleFailures; i += 1) {
            const answer = await loginFrom(attacker, name, wrong(i));
            if (answer.status === 429) clock.advance(answer.retryAfter ?? 1);
            else expect(answer.status).toBe(401);
          }
          if (staleFailures > 0) clock.advance(WINDOW + LOCKOUT_MAX + 1);
          // ...and failures just now, from the attacker or from elsewhere.
          for (let i = 0; i < recentFailures; i += 1) {
            expect((await loginFrom(recentFromAttacker ? attacker : other, name, wrong(i))).status).toBe(401);
          }
          const before = (await service.storedItem(`user#${name}`))?.hourCount ?? 0;

          const burst = await Promise.all(
            Array.from({ length: size }, (_, i) => loginFrom(attacker, name, wrong(100 + i))),
          );
          expect(statuses(burst).every((status) => status === 401 || status === 429)).toBe(true);
          expectRefusalsWellFormed(burst);
          const checked = count(burst, 401);
          // Recent failures hold the name's slots: together they never exceed the limit.
          expect(checked + recentFailures).toBeLessThanOrEqual(MAX_FAILURES);
          expect((await service.storedItem(`user#${name}`))?.hourCount).toBe(before + checked);
          if (checked + recentFailures === MAX_FAILURES) {
            expect((await loginFrom(attacker, name, DEFAULT_PASSWORD)).status).toBe(429);
          }
        },
      ),
      { numRuns: 10 },
    );
  }, 180_000);
});

describe("the owner's own logins", () => {
  it('never crowd out the next: more than LOGIN_MAX_FAILURES in one second all succeed (a lease whose session exists is taken over)', async () => {
    const name = freshName('owner');
    await register(name);
    const owner = freshAddress();
    // The clock stands still: no lease lapses by time, each is taken over because its login's session exists.
    const answers: Answer[] = [];
    for (let i = 0; i < 3 * MAX_FAILURES; i += 1)
      answers.push(await loginFrom(owner, name, DEFAULT_PASSWORD));
    expect(statuses(answers)).toEqual(Array(3 * MAX_FAILURES).fill(200));
  });

  it('racing for the leases of finished logins: each is 200 or a well-formed 429, never a fault', async () => {
    const name = freshName('owner-race');
    await register(name);
    const owner = freshAddress();
    for (let i = 0; i < MAX_FAILURES; i += 1)
      expect((await loginFrom(owner, name, DEFAULT_PASSWORD)).status).toBe(200);
    // Every slot is now held by a finished login: all racers aim at those leases, and losers of every round wait.
    const burst = await Promise.all(
      Array.from({ length: 4 * MAX_FAILURES }, () => loginFrom(owner, name, DEFAULT_PASSWORD)),
    );
    expect(burst.filter((answer) => ![200, 429].includes(answer.status))).toEqual([]);
    expect(count(burst, 200)).toBeGreaterThanOrEqual(1);
    expectRefusalsWellFormed(burst);
  });
});

describe('a check slot taken against contention', () => {
  it('a guesser whose pair is locked is told its own lock, even while finished logins of the owner hold every slot', async () => {
    const name = freshName('locked-pair');
    await register(name);
    const attacker = freshAddress();
    const owner = freshAddress();
    for (let i = 0; i < MAX_FAILURES; i += 1)
      expect((await loginFrom(attacker, name, wrong(i))).status).toBe(401);
    clock.advance(LOCKOUT_BASE);
    // One failure more after the first lock: the pair's lock doubles.
    expect((await loginFrom(attacker, name, wrong(99))).status).toBe(401);
    // The owner's logins take every free slot and then one whose login finished (its session exists).
    for (let i = 0; i < MAX_FAILURES; i += 1)
      expect((await loginFrom(owner, name, DEFAULT_PASSWORD)).status).toBe(200);
    // No finished lease may be taken for a locked pair: its wait is the lock, not a second of contention.
    const guesser = await loginFrom(attacker, name, DEFAULT_PASSWORD);
    expect(guesser).toEqual({ status: 429, retryAfter: 2 * LOCKOUT_BASE });
  });

  it('a name contended on every round gives up after LOGIN_MAX_FAILURES + 1 tries with a wait of one second', async () => {
    const name = freshName('contended');
    await register(name);
    // Every try at a check slot loses its condition, as to a racer that is always first.
    let tries = 0;
    const racer = observe(functionClients());
    racer.add(
      (next) => async (args) => {
        const input = args.input as { ConditionExpression?: string; UpdateExpression?: string };
        if (input.UpdateExpression?.startsWith('SET') && input.ConditionExpression?.includes('hourUntil')) {
          tries += 1;
          throw Object.assign(new Error('The conditional request failed'), {
            name: 'ConditionalCheckFailedException',
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'always-first-racer' },
    );
    try {
      const answer = await loginFrom(freshAddress(), name, DEFAULT_PASSWORD);
      expect(answer).toEqual({ status: 429, retryAfter: 1 });
    } finally {
      racer.remove('always-first-racer');
    }
    expect(tries).toBe(MAX_FAILURES + 1);
  });
});

describe('failures from other addresses', () => {
  it('delay the owner on another address by at most LOGIN_LOCKOUT_BASE after they stop, while the guesser’s own lock grows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), async (extraRounds) => {
        const name = freshName('owner');
        await register(name);
        const attacker = freshAddress();
        const owner = freshAddress();
        for (let i = 0; i < MAX_FAILURES; i += 1)
          expect((await loginFrom(attacker, name, wrong(i))).status).toBe(401);
        let lock = LOCKOUT_BASE;
        for (let round = 0; round < extraRounds; round += 1) {
          const locked = await loginFrom(attacker, name, wrong(50 + round));
          expect(locked.status).toBe(429);
          expect(locked.retryAfter).toBe(lock);
          clock.advance(lock);
          expect((await loginFrom(attacker, name, wrong(60 + round))).status).toBe(401);
          lock = Math.min(lock * 2, LOCKOUT_MAX);
        }
        // The guesser's own lock keeps growing...
        const guesser = await loginFrom(attacker, name, DEFAULT_PASSWORD);
        expect(guesser.status).toBe(429);
        expect(guesser.retryAfter).toBe(lock);
        // ...while the owner waits at most LOCKOUT_BASE from the last failure.
        const owner1 = await loginFrom(owner, name, DEFAULT_PASSWORD);
        if (owner1.status === 429) {
          expect(owner1.retryAfter).toBeLessThanOrEqual(LOCKOUT_BASE);
          clock.advance(owner1.retryAfter ?? LOCKOUT_BASE);
          expect((await loginFrom(owner, name, DEFAULT_PASSWORD)).status).toBe(200);
        } else {
          expect(owner1.status).toBe(200);
        }
        // The owner's success does not unlock the guesser's address.
        expect((await loginFrom(attacker, name, DEFAULT_PASSWORD)).status).toBe(429);
      }),
      { numRuns: 4 },
    );
  }, 120_000);

  it(`give a name at most ${NAME_FAILURES_PER_HOUR} failed checks an hour, however many addresses guess`, async () => {
    const name = freshName('ceiling');
    await register(name);
    const start = Date.now();
    let checked = 0;
    let ceiling: Answer | undefined;
    for (let attempt = 0; attempt < 2 * NAME_FAILURES_PER_HOUR && !ceiling; attempt += 1) {
      const answer = await loginFrom(freshAddress(), name, wrong(attempt));
      if (answer.status === 401) checked += 1;
      else if (answer.status === 429 && (answer.retryAfter ?? 0) <= LOCKOUT_BASE) clock.advance(LOCKOUT_BASE);
      else ceiling = answer;
    }
    expect((Date.now() - start) / 1000).toBeLessThan(3600);
    expect(checked).toBeLessThanOrEqual(NAME_FAILURES_PER_HOUR);
    expect(checked).toBeGreaterThan(NAME_FAILURES_PER_HOUR - MAX_FAILURES);
    expect(ceiling?.status).toBe(429);
    // Held until an hour after the last failure, for every address without a known device. Once the last
    // failures' check slots have lapsed (LOGIN_LOCKOUT_BASE) only the hourly ceiling can refuse: this is the
    // admission condition's hourly clause at work, not the failure slots.
    clock.advance(LOCKOUT_BASE + 1);
    const held = await loginFrom(freshAddress(), name, DEFAULT_PASSWORD);
    expect(held.status).toBe(429);
    expect(held.retryAfter).toBeGreaterThan(3600 - 2 * LOCKOUT_BASE);
    clock.advance(3600);
    expect((await loginFrom(freshAddress(), name, DEFAULT_PASSWORD)).status).toBe(200);
  }, 120_000);
});

describe('one address guessing over many names', () => {
  it('is throttled after LOGIN_ADDRESS_MAX_FAILURES failures, whatever the names, and no other address is', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: ADDRESS_MAX_FAILURES + 4 }), async (names) => {
        const sprayer = freshAddress();
        const answers: Answer[] = [];
        for (let i = 0; i < names; i += 1)
          answers.push(await loginFrom(sprayer, freshName('spray'), wrong(i)));
        expect(count(answers, 401)).toBe(Math.min(names, ADDRESS_MAX_FAILURES));
        expect(count(answers, 429)).toBe(Math.max(0, names - ADDRESS_MAX_FAILURES));
        expectRefusalsWellFormed(answers);
        expect((await loginFrom(freshAddress(), freshName('spray'), wrong(0))).status).toBe(401);
      }),
      { numRuns: 5 },
    );
  }, 120_000);

  it('is one address for every address of its IPv6 /64: throttled together, and a neighbouring /64 is not', async () => {
    used += 1;
    const prefix = `2001:db8:${used.toString(16)}:1`;
    // A new address of the /64 for every guess, each written its own way.
    for (let i = 0; i < ADDRESS_MAX_FAILURES; i += 1) {
      const address = i % 2 === 0 ? `${prefix}::${(i + 1).toString(16)}` : `${prefix}:0:0:${i}:ffff`;
      expect((await loginFrom(address, freshName('spray64'), wrong(i))).status).toBe(401);
    }
    const another = await loginFrom(`${prefix}:dead:beef:1:2`, freshName('spray64'), wrong(0));
    expect(another.status).toBe(429);
    expect(another.retryAfter).toBe(LOCKOUT_BASE);
    expect(
      (await loginFrom(`2001:db8:${used.toString(16)}:2::1`, freshName('spray64'), wrong(0))).status,
    ).toBe(401);
  });

  it('is refused even the right password of a real account while throttled, and its lock grows', async () => {
    const sprayer = freshAddress();
    for (let i = 0; i < ADDRESS_MAX_FAILURES; i += 1)
      expect((await loginFrom(sprayer, freshName('spray'), wrong(i))).status).toBe(401);
    const name = freshName('victim');
    await register(name);
    const refused = await loginFrom(sprayer, name, DEFAULT_PASSWORD);
    expect(refused).toEqual({ status: 429, retryAfter: LOCKOUT_BASE });
    clock.advance(LOCKOUT_BASE);
    expect((await loginFrom(sprayer, freshName('spray'), wrong(99))).status).toBe(401);
    expect(await loginFrom(sprayer, name, DEFAULT_PASSWORD)).toEqual({
      status: 429,
      retryAfter: 2 * LOCKOUT_BASE,
    });
  });
});

describe('lock state of a name before it is registered', () => {
  it.each([1, MAX_FAILURES, MAX_FAILURES + 2])(
    'never carries over to the account registered under it (%i failures before)',
    async (failures) => {
      const name = freshName('late');
      const guesser = freshAddress();
      for (let i = 0; i < failures; i += 1) {
        const answer = await loginFrom(guesser, name, wrong(i));
        if (answer.status === 429) clock.advance(answer.retryAfter ?? 1);
      }
      await register(name);
      const item = await service.storedItem(`user#${name}`);
      expect(item?.pairs).toBeUndefined();
      expect(item?.ttl).toBeUndefined();
      // The new owner logs in at once, even from the address that guessed.
      expect((await loginFrom(guesser, name, DEFAULT_PASSWORD)).status).toBe(200);
    },
  );
});

describe('registration racing guesses at the same name', () => {
  it('leaves no TTL on the account, and the owner logs in from elsewhere within LOGIN_LOCKOUT_BASE', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        async (guesses, at) => {
          const name = freshName('race');
          const guesser = freshAddress();
          const attempts = Array.from({ length: guesses }, (_, i) => loginFrom(guesser, name, wrong(i)));
          // The registration lands somewhere among the guesses.
          attempts.splice(
            Math.min(at, attempts.length),
            0,
            service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD }).then((r) => ({
              status: r.status,
              retryAfter: undefined,
            })),
          );
          const answers = await Promise.all(attempts);
          expect(count(answers, 201)).toBe(1);
          expect(answers.every((answer) => [201, 401, 429].includes(answer.status))).toBe(true);
          const item = await service.storedItem(`user#${name}`);
          // A TTL on a real account would have DynamoDB delete it.
          expect(item?.ttl).toBeUndefined();
          expect(item?.passwordHash).toEqual(expect.any(String));
          clock.advance(LOCKOUT_BASE);
          expect((await loginFrom(freshAddress(), name, DEFAULT_PASSWORD)).status).toBe(200);
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);
});
