import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../infra/local/dynamo.ts';
import { defaults } from '../../lib/config.ts';
import { hashRecoveryCode } from '../../lib/mfa/recovery-codes.ts';
import { totpCodeAt, totpStepAt } from '../../lib/mfa/totp.ts';
import { createDocumentClient } from '../../lib/store/dynamodb.ts';
import { SecondFactorStore } from '../../lib/store/second-factors.ts';
import { DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: '3', TOTP_ISSUER: 'Example Co' });
});
afterAll(() => service.close());

let names = 0;
const freshName = () => `totp-${++names}-${Math.random().toString(36).slice(2, 8)}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const currentCode = (secret: string, offset = 0) => totpCodeAt(secret, totpStepAt(Date.now()) + offset);

/** Registers a user and starts a TOTP enrolment: the user's tokens and the pending secret. */
async function enrolling(username = freshName()) {
  const tokens = await service.signUp(username);
  const started = await service.post(
    '/auth/mfa/totp',
    { password: DEFAULT_PASSWORD },
    bearer(tokens.accessToken),
  );
  expect(started.status).toBe(200);
  return { username, tokens, secret: started.json.secret as string, uri: started.json.otpauthUri as string };
}

describe('POST /auth/mfa/totp', () => {
  it('answers a 160-bit base32 secret and its otpauth URI, and stores it only sealed', async () => {
    const { username, secret, uri } = await enrolling();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(uri).toBe(
      `otpauth://totp/Example%20Co:${username}?issuer=Example%20Co&secret=${secret}&algorithm=SHA1&digits=6&period=30`,
    );
    const item = await service.storedItem(`user#${username}`);
    expect(typeof item?.totpPending).toBe('string');
    expect(JSON.stringify(item)).not.toContain(secret);
  });

  it('refuses a wrong password as invalid_credentials, counted toward the lockout', async () => {
    const tokens = await service.signUp(freshName());
    const attempts = [];
    for (let i = 0; i < 4; i += 1)
      attempts.push(
        (await service.post('/auth/mfa/totp', { password: `wrong ${i}` }, bearer(tokens.accessToken))).status,
      );
    expect(attempts).toEqual([401, 401, 401, 429]);
  });

  it('needs a valid access token and a password field', async () => {
    expect((await service.post('/auth/mfa/totp', { password: DEFAULT_PASSWORD })).status).toBe(401);
    const tokens = await service.signUp(freshName());
    const missing = await service.post('/auth/mfa/totp', {}, bearer(tokens.accessToken));
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
  });
});

describe('POST /auth/mfa/totp/confirm', () => {
  it('turns TOTP on with a current code and answers ten recovery codes, stored only as hashes', async () => {
    const { username, tokens, secret } = await enrolling();
    const step = totpStepAt(Date.now());
    const confirmed = await service.post(
      '/auth/mfa/totp/confirm',
      { code: totpCodeAt(secret, step) },
      bearer(tokens.accessToken),
    );
    expect(confirmed.status).toBe(200);
    const codes = confirmed.json.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    const item = await service.storedItem(`user#${username}`);
    expect(item?.totpPending).toBeUndefined();
    expect(typeof item?.totpSecret).toBe('string');
    // The step the code was of (the clock may have moved on to the next one since).
    expect(item?.totpStep).toBe(step);
    expect(Object.keys(item?.recoveryCodes ?? {}).sort()).toEqual(
      codes.map((code) => hashRecoveryCode(code)).sort(),
    );
    const stored = JSON.stringify(item);
    for (const code of codes) expect(stored).not.toContain(code);
    expect(stored).not.toContain(secret);
  });

  it('refuses a wrong code with invalid_mfa_code and leaves TOTP off', async () => {
    const { username, tokens, secret } = await enrolling();
    const wrong = String((Number(currentCode(secret)) + 1) % 1_000_000).padStart(6, '0');
    const refused = await service.post('/auth/mfa/totp/confirm', { code: wrong }, bearer(tokens.accessToken));
    expect(refused.status).toBe(401);
    expect(refused.json.error).toBe('invalid_mfa_code');
    expect((await service.storedItem(`user#${username}`))?.totpSecret).toBeUndefined();
  });

  it('without an enrolment is mfa_not_enabled; once on, enrolling again is mfa_already_enabled', async () => {
    const tokens = await service.signUp(freshName());
    const early = await service.post(
      '/auth/mfa/totp/confirm',
      { code: '123456' },
      bearer(tokens.accessToken),
    );
    expect(early.json.error).toBe('mfa_not_enabled');
    const { tokens: on, secret } = await enrolling();
    await service.post('/auth/mfa/totp/confirm', { code: currentCode(secret) }, bearer(on.accessToken));
    const again = await service.post(
      '/auth/mfa/totp',
      { password: DEFAULT_PASSWORD },
      bearer(on.accessToken),
    );
    expect(again.status).toBe(409);
    expect(again.json.error).toBe('mfa_already_enabled');
  });

  it('a new enrolment replaces a pending one: a code of the old secret no longer confirms', async () => {
    const { tokens, secret: first } = await enrolling();
    const second = await service.post(
      '/auth/mfa/totp',
      { password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    expect(second.json.secret).not.toBe(first);
    const old = await service.post(
      '/auth/mfa/totp/confirm',
      { code: currentCode(first) },
      bearer(tokens.accessToken),
    );
    // One chance in a million that the two secrets share the current code.
    if (currentCode(first) !== currentCode(second.json.secret)) expect(old.status).toBe(401);
  });
});

describe('DELETE /auth/mfa/totp and POST /auth/mfa/recovery-codes', () => {
  it('a new set of recovery codes replaces the old; turning TOTP off removes it and the codes', async () => {
    const { username, tokens, secret } = await enrolling();
    const step = totpStepAt(Date.now());
    const first = await service.post(
      '/auth/mfa/totp/confirm',
      { code: totpCodeAt(secret, step) },
      bearer(tokens.accessToken),
    );
    const renewed = await service.post(
      '/auth/mfa/recovery-codes',
      { password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    expect(renewed.status).toBe(200);
    expect(renewed.json.recoveryCodes).toHaveLength(10);
    const stored = Object.keys((await service.storedItem(`user#${username}`))?.recoveryCodes ?? {});
    for (const code of first.json.recoveryCodes) expect(stored).not.toContain(hashRecoveryCode(code));
    const off = await service.request('DELETE', '/auth/mfa/totp', {
      body: { password: DEFAULT_PASSWORD },
      headers: bearer(tokens.accessToken),
    });
    expect(off.status).toBe(204);
    const item = await service.storedItem(`user#${username}`);
    expect(item?.totpSecret).toBeUndefined();
    expect(item?.recoveryCodes).toBeUndefined();
    // The last accepted step stays: no step is accepted twice for the account, whatever the secret.
    expect(item?.totpStep).toBe(step);
    const none = await service.post(
      '/auth/mfa/recovery-codes',
      { password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    expect(none.status).toBe(409);
    expect(none.json.error).toBe('mfa_not_enabled');
  });

  it('a wrong password turns nothing off', async () => {
    const { username, tokens, secret } = await enrolling();
    await service.post('/auth/mfa/totp/confirm', { code: currentCode(secret) }, bearer(tokens.accessToken));
    const off = await service.request('DELETE', '/auth/mfa/totp', {
      body: { password: 'not the password' },
      headers: bearer(tokens.accessToken),
    });
    expect(off.status).toBe(401);
    expect((await service.storedItem(`user#${username}`))?.totpSecret).toBeDefined();
  });
});

describe('the store rules, each also a DynamoDB condition', () => {
  const store = () =>
    new SecondFactorStore(
      createDocumentClient(localDynamoClient(service.server.dynamoDbEndpoint)),
      process.env.TABLE_NAME ?? defaults.TABLE_NAME,
    );

  it('of racing acceptances of TOTP steps, exactly the advancing ones win, and the last step only ever grows', async () => {
    const { username, tokens, secret } = await enrolling();
    await service.post('/auth/mfa/totp/confirm', { code: currentCode(secret) }, bearer(tokens.accessToken));
    const seen = (await service.storedItem(`user#${username}`)) as Record<string, any>;
    const userId = seen.userId as string;
    const secondFactors = store();
    let last = seen.totpStep as number;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -2, max: 3 }), { minLength: 2, maxLength: 12 }),
        async (offsets) => {
          // Every racer read the same state: only the condition decides.
          const wins = await Promise.all(
            offsets.map((offset) =>
              secondFactors.acceptTotpStep({ username, userId, seen: seen.totpSecret, step: last + offset }),
            ),
          );
          const advancing = offsets.filter((offset) => offset > 0);
          const stored = (await service.storedItem(`user#${username}`))?.totpStep as number;
          expect(stored).toBe(advancing.length > 0 ? last + Math.max(...advancing) : last);
          // No step at or below the last one ever wins, and the same step never wins twice.
          offsets.forEach((offset, i) => {
            if (offset <= 0) expect(wins[i]).toBe(false);
          });
          for (const offset of new Set(offsets)) {
            const won = offsets.filter((o, i) => o === offset && wins[i]).length;
            expect(won).toBeLessThanOrEqual(1);
          }
          if (advancing.length > 0) expect(wins.filter(Boolean).length).toBeGreaterThanOrEqual(1);
          last = stored;
        },
      ),
      { numRuns: 25 },
    );
  });

  it('of racing uses of one recovery code exactly one wins, however many race', async () => {
    const { username, tokens, secret } = await enrolling();
    const confirmed = await service.post(
      '/auth/mfa/totp/confirm',
      { code: currentCode(secret) },
      bearer(tokens.accessToken),
    );
    const codes = confirmed.json.recoveryCodes as string[];
    const userId = (await service.storedItem(`user#${username}`))?.userId as string;
    const secondFactors = store();
    let next = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 8 }), async (racers) => {
        const code = codes[next++ % codes.length] as string;
        const hash = hashRecoveryCode(code) as string;
        const uses = Array.from({ length: racers }, () =>
          secondFactors.consumeRecoveryCode(username, userId, hash),
        );
        const results = await Promise.all(uses);
        expect(results.filter(Boolean).length).toBe(1);
        expect(await secondFactors.consumeRecoveryCode(username, userId, hash)).toBe(false);
      }),
      { numRuns: 10 },
    );
  });
});
