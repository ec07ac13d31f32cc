import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import { audienceOf } from '../../lib/tokens/pair.ts';
import { openSuccessorPair, type SuccessorContext } from '../../lib/tokens/successor.ts';
import { useFakeClock } from '../support/clock.ts';
import { captureEmfLines, type EmfCapture, sumMetrics } from '../support/emf.ts';
import { claimsOf, startTestService, type TestService, type TokenPairBody } from '../support/service.ts';

/**
 * Refresh made idempotent within REFRESH_REUSE_GRACE (API.md checks 5 and 7), and what that costs the store:
 * nothing usable is kept in it.
 */
const GRACE = 10;
let service: TestService;
let emf: EmfCapture;
beforeAll(async () => {
  // The functions print their EMF metric lines on stdout: captured to prove no reuse was counted.
  emf = captureEmfLines();
  // The suite keeps EMF lines off (vitest.config.ts); this file reads them.
  service = await startTestService({
    REFRESH_REUSE_GRACE: String(GRACE),
    POWERTOOLS_METRICS_DISABLED: 'false',
  });
});
afterAll(async () => {
  emf.restore();
  await service?.close();
});
const clock = useFakeClock();

let userCount = 0;
const newSession = () => service.signUp(`idempotent-${++userCount}`);
const refresh = (refreshToken: unknown, extra: Record<string, unknown> = {}) =>
  service.post('/auth/refresh', { refreshToken, ...extra });
/** The sealing context of the session `tokens` belong to, as the refresh that sealed its pair had it. */
async function contextOf(tokens: TokenPairBody): Promise<SuccessorContext> {
  const claims = claimsOf(tokens.accessToken);
  const { config, keys } = defaultServices();
  return {
    sid: claims.sid as string,
    userId: claims.sub as string,
    authTime: claims.auth_time as number,
    algorithm: (await keys.getKeyRing()).algorithm,
    audience: audienceOf(config),
  };
}
const sessionItem = (tokens: TokenPairBody) =>
  service.storedItem(`session#${claimsOf(tokens.accessToken).sid}`);

/** How many times each metric was emitted since `from` (an offset into the captured output). */
function metricsSince(from: number): Record<string, number> {
  return sumMetrics(emf.recordsSince(from));
}

describe('a refresh whose answer was lost', () => {
  it('is retried with the same token and gets the same pair; the session keeps working and no reuse is counted', async () => {
    const r0 = await newSession();
    const from = emf.mark();
    // The service rotates and answers, but the answer never reaches the client: it still holds only R0.
    const lost = await refresh(r0.refreshToken, { accessToken: r0.accessToken });
    expect(lost.status).toBe(200);
    clock.advance(3);

    const retried = await refresh(r0.refreshToken, { accessToken: r0.accessToken });

    expect(retried.status).toBe(200);
    expect(retried.json.accessToken).toBe(lost.json.accessToken);
    expect(retried.json.refreshToken).toBe(lost.json.refreshToken);
    expect(retried.json.expiresIn).toBe(lost.json.expiresIn - 3);
    expect(retried.json.refreshExpiresIn).toBe(lost.json.refreshExpiresIn - 3);
    // Long after the grace window the client goes on with what it received, as if nothing had been lost.
    clock.advance(GRACE * 10);
    expect((await service.me(retried.json.accessToken)).status).toBe(200);
    const next = await refresh(retried.json.refreshToken);
    expect(next.status).toBe(200);
    expect((await service.me(next.json.accessToken)).status).toBe(200);
    expect((await refresh(next.json.refreshToken)).status).toBe(200);
    expect((await sessionItem(r0))?.revoked).toBe(false);
    expect(metricsSince(from)).toEqual({ Refreshes: 3, RefreshRetries: 1 });
  });

  it('is answered the same however many times it is retried within the grace window', async () => {
    const r0 = await newSession();
    const lost = await refresh(r0.refreshToken);
    const answers = [];
    for (let second = 3; second <= GRACE; second += 3) {
      clock.advance(3);
      answers.push(await refresh(r0.refreshToken));
    }
    for (const answer of answers) expect(answer.json.refreshToken).toBe(lost.json.refreshToken);
  });
});

describe('the stored session item', () => {
  it('holds no field that /auth/refresh or the authorizer accepts on its own, after a rotation', async () => {
    const r0 = await newSession();
    const r1 = (await refresh(r0.refreshToken)).json as TokenPairBody;
    const item = await sessionItem(r0);
    expect(item?.sealedSuccessor).toBeInstanceOf(Uint8Array);
    expect(item?.previousRefreshHash).toBe(hashRefreshToken(r0.refreshToken));

    // Every string in the item, and the base64url parts of each, as a token and as the key to the sealed pair.
    const candidates = new Set<string>();
    for (const value of Object.values(item ?? {})) {
      const text =
        value instanceof Uint8Array
          ? Buffer.from(value).toString('base64url')
          : typeof value === 'string'
            ? value
            : JSON.stringify(value);
      if (value instanceof Uint8Array) candidates.add(Buffer.from(value).toString('latin1'));
      candidates.add(text);
      for (const part of text.split(/[.#]/)) {
        candidates.add(part);
        candidates.add(Buffer.from(part, 'base64url').toString('latin1'));
      }
    }
    expect(candidates.size).toBeGreaterThan(8);
    const context = await contextOf(r0);
    for (const candidate of candidates) {
      const asRefresh = await refresh(candidate);
      expect(asRefresh.status, `refresh with ${candidate.slice(0, 40)}`).not.toBe(200);
      expect(JSON.stringify(asRefresh.json)).not.toContain(r1.refreshToken);
      // (A header carries printable ASCII only; anything else could not even be sent.)
      if (/^[\x20-\x7e]*$/.test(candidate))
        expect((await service.me(candidate)).status, `authorizer with ${candidate.slice(0, 40)}`).toBe(401);
      // Nor does anything in the item open the sealed pair: its key comes from the token, not its hash.
      expect(
        openSuccessorPair(item?.sealedSuccessor, { refreshToken: candidate, hash: candidate }, context),
      ).toBeUndefined();
      expect(
        openSuccessorPair(
          item?.sealedSuccessor,
          { refreshToken: candidate, hash: item?.previousRefreshHash },
          context,
        ),
      ).toBeUndefined();
    }
    // The tokens themselves appear nowhere in it.
    const stored = JSON.stringify(item) + Buffer.from(item?.sealedSuccessor ?? []).toString('latin1');
    for (const token of [r0.refreshToken, r0.accessToken, r1.refreshToken, r1.accessToken])
      expect(stored).not.toContain(token.split('.')[2]);
    // The session lived through all that: the probes were refused, never treated as replays of its tokens.
    expect((await service.me(r1.accessToken)).status).toBe(200);
  });

  it('seals the successor so that only the previous token opens it, in this session and this rotation only', async () => {
    const r0 = await newSession();
    const r1 = (await refresh(r0.refreshToken)).json as TokenPairBody;
    const item = await sessionItem(r0);
    const context = await contextOf(r0);
    const presented = { refreshToken: r0.refreshToken, hash: hashRefreshToken(r0.refreshToken) };

    expect(openSuccessorPair(item?.sealedSuccessor, presented, context)).toMatchObject({
      accessToken: r1.accessToken,
      refreshToken: r1.refreshToken,
    });
    // The new token, another session's id, another rotation's hash, a flipped byte: nothing opens.
    const r1Presented = { refreshToken: r1.refreshToken, hash: hashRefreshToken(r1.refreshToken) };
    expect(openSuccessorPair(item?.sealedSuccessor, r1Presented, context)).toBeUndefined();
    expect(
      openSuccessorPair(item?.sealedSuccessor, presented, { ...context, sid: `${context.sid}x` }),
    ).toBeUndefined();
    expect(
      openSuccessorPair(item?.sealedSuccessor, { ...presented, hash: r1Presented.hash }, context),
    ).toBeUndefined();
    // What the pair was compressed against is bound too: another user, login time or audience opens nothing.
    expect(
      openSuccessorPair(item?.sealedSuccessor, presented, { ...context, userId: 'someone-else' }),
    ).toBeUndefined();
    expect(
      openSuccessorPair(item?.sealedSuccessor, presented, { ...context, authTime: context.authTime + 1 }),
    ).toBeUndefined();
    expect(
      openSuccessorPair(item?.sealedSuccessor, presented, {
        ...context,
        audience: { ...context.audience, issuer: 'https://elsewhere.example' },
      }),
    ).toBeUndefined();
    const tampered = Buffer.from(item?.sealedSuccessor as Uint8Array);
    tampered[20] = (tampered[20] ?? 0) ^ 1;
    expect(openSuccessorPair(tampered, presented, context)).toBeUndefined();
    const otherVersion = Buffer.from(item?.sealedSuccessor as Uint8Array);
    otherVersion[0] = 3;
    expect(openSuccessorPair(otherVersion, presented, context)).toBeUndefined();
  });
});
