import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { MAX_PASSKEYS, type StoredPasskey } from '../../lib/store/passkeys.ts';
import { startTestService, type TestService } from '../support/service.ts';

/**
 * The passkey and challenge stores against the table itself: the rules their DynamoDB conditions hold, each of
 * which is also checked in TypeScript before the write (the signature counter by SimpleWebAuthn, the challenge
 * by its single read-and-delete), so these tests go red when only the condition is broken.
 */
let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());

const passkey = (counter: number, overrides: Partial<StoredPasskey> = {}): StoredPasskey => ({
  credentialId: randomUUID().replaceAll('-', ''),
  publicKey: new Uint8Array([1, 2, 3]),
  counter,
  transports: ['internal'],
  name: 'test',
  createdAt: Date.now(),
  backupEligible: false,
  ...overrides,
});

const now = () => Math.floor(Date.now() / 1000);

describe('PasskeyStore.recordUse (the signature counter at the write)', () => {
  it('accepts only a counter greater than the stored one, and a 0 only while the stored one is 0', async () => {
    const { passkeys } = defaultServices();
    const userId = randomUUID();
    const counting = passkey(5);
    const uncounted = passkey(0);
    await passkeys.add(userId, 'someone', counting);
    await passkeys.add(userId, 'someone', uncounted);
    expect(await passkeys.recordUse(userId, counting.credentialId, 5, now())).toBe(false);
    expect(await passkeys.recordUse(userId, counting.credentialId, 4, now())).toBe(false);
    expect(await passkeys.recordUse(userId, counting.credentialId, 0, now())).toBe(false);
    expect(await passkeys.recordUse(userId, counting.credentialId, 6, now())).toBe(true);
    expect(await passkeys.recordUse(userId, uncounted.credentialId, 0, now())).toBe(true);
    expect(await passkeys.recordUse(userId, uncounted.credentialId, 1, now())).toBe(true);
    expect(await passkeys.recordUse(userId, uncounted.credentialId, 0, now())).toBe(false);
    const stored = (await passkeys.get(userId)).passkeys;
    expect(stored.find((p) => p.credentialId === counting.credentialId)?.counter).toBe(6);
  });

  it('of racing sign-ins, no counter is accepted twice or below the stored one, and the highest one stays (any start order)', async () => {
    const { passkeys } = defaultServices();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 2, maxLength: 6 }),
        fc.scheduler(),
        async (initial, counters, scheduler) => {
          const userId = randomUUID();
          const credential = passkey(initial);
          await passkeys.add(userId, 'someone', credential);
          const accepted: number[] = [];
          const writes = Promise.all(
            counters.map((counter) =>
              scheduler.schedule(Promise.resolve(counter)).then(async () => {
                if (await passkeys.recordUse(userId, credential.credentialId, counter, now()))
                  accepted.push(counter);
              }),
            ),
          );
          await scheduler.waitAll();
          await writes;
          const final = (await passkeys.get(userId)).passkeys[0]?.counter;
          // No counter was accepted twice (the second write of one found it no longer below), and every accepted
          // one was above the stored one (or 0 on a credential that never counted).
          expect(new Set(accepted).size).toBe(accepted.length);
          for (const counter of accepted)
            expect(counter === 0 ? initial === 0 : counter > initial).toBe(true);
          expect(final).toBe(Math.max(initial, ...counters));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('refuses a credential that was deleted', async () => {
    const { passkeys } = defaultServices();
    const userId = randomUUID();
    const credential = passkey(1);
    await passkeys.add(userId, 'someone', credential);
    expect(await passkeys.remove(userId, credential.credentialId)).toBe(true);
    expect(await passkeys.recordUse(userId, credential.credentialId, 2, now())).toBe(false);
    expect(await passkeys.remove(userId, credential.credentialId)).toBe(false);
  });
});

describe('PasskeyStore.add', () => {
  it('refuses a credential id the user already has and more than MAX_PASSKEYS, and takes its own retried write', async () => {
    const { passkeys } = defaultServices();
    const userId = randomUUID();
    const first = passkey(0);
    expect(await passkeys.add(userId, 'someone', first)).toBe('added');
    // The same write again (an answer lost, the SDK retried): its own credential, so added.
    expect(await passkeys.add(userId, 'someone', first)).toBe('added');
    expect(await passkeys.add(userId, 'someone', { ...first, createdAt: first.createdAt + 1 })).toBe(
      'already_registered',
    );
    for (let i = 1; i < MAX_PASSKEYS; i += 1)
      expect(await passkeys.add(userId, 'someone', passkey(0))).toBe('added');
    expect(await passkeys.add(userId, 'someone', passkey(0))).toBe('too_many');
    expect((await passkeys.get(userId)).passkeys).toHaveLength(MAX_PASSKEYS);
    expect((await service.storedItem(`passkeys#${userId}`))?.count).toBe(MAX_PASSKEYS);
  });
});

describe('WebAuthnChallengeStore.consume (single use by a conditional delete)', () => {
  it('of concurrent consumers of one challenge exactly one gets it', async () => {
    const { webauthnChallenges } = defaultServices();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 8 }), async (racers) => {
        const id = randomUUID();
        await webauthnChallenges.issue(id, { challenge: 'abc', purpose: 'login' }, now());
        const taken = await Promise.all(
          Array.from({ length: racers }, () => webauthnChallenges.consume(id, 'login', now())),
        );
        expect(taken.filter((t) => t?.challenge === 'abc')).toHaveLength(1);
        expect(await service.storedItem(`webauthn-challenge#${id}`)).toBeUndefined();
      }),
      { numRuns: 10 },
    );
  });

  it('refuses an expired challenge, one of another purpose and one of another user, and leaves them', async () => {
    const { webauthnChallenges } = defaultServices();
    const id = randomUUID();
    const issuedAt = now();
    const issued = await webauthnChallenges.issue(
      id,
      { challenge: 'abc', purpose: 'register', userId: 'u1' },
      issuedAt,
    );
    expect(issued.expiresAt).toBe(issuedAt + 300);
    expect((await service.storedItem(`webauthn-challenge#${id}`))?.ttl).toBe(issued.expiresAt);
    expect(await webauthnChallenges.consume(id, 'register', issued.expiresAt)).toBeUndefined();
    expect(await webauthnChallenges.consume(id, 'login', now())).toBeUndefined();
    expect(await webauthnChallenges.consume(id, 'register', now(), 'u2')).toBeUndefined();
    expect((await webauthnChallenges.consume(id, 'register', now(), 'u1'))?.challenge).toBe('abc');
  });
});
