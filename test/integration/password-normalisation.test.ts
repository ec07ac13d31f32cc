import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dictionary } from '@zxcvbn-ts/language-common';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../infra/local/dynamo.ts';
import { defaults } from '../../lib/config.ts';
import { createPasswordHasher } from '../../lib/passwords/argon2.ts';
import { startTestService, TEST_ARGON2_PARAMS, type TestService } from '../support/service.ts';

// API.md "Passwords": one password however it is typed; ill-formed text refused; the strength
// rule judges exactly what is hashed; hashes stored before normalisation keep working.
let service: TestService;
let db: DynamoDBDocumentClient;
beforeAll(async () => {
  // A high limit: these tests are about passwords, not the lockout.
  service = await startTestService({ LOGIN_MAX_FAILURES: '50', LOGIN_ADDRESS_MAX_FAILURES: '10000' });
  db = DynamoDBDocumentClient.from(localDynamoClient(service.server.dynamoDbEndpoint));
});
afterAll(async () => {
  db.destroy();
  await service.close();
});

let names = 0;
const freshName = () => `pw-${++names}-${Math.random().toString(36).slice(2, 8)}`;
const register = (username: string, password: string) =>
  service.post('/auth/register', { username, password });

describe('a password typed in another Unicode form', () => {
  it.each([
    ['decomposed (NFD)', 'Café crème brûlée 1984', (p: string) => p.normalize('NFD')],
    [
      'precomposed, registered decomposed',
      'Café crème brûlée 1984'.normalize('NFD'),
      (p: string) => p.normalize('NFC'),
    ],
    ['full-width digits', 'Café crème brûlée 1984', (p: string) => p.replace('1984', '１９８４')],
    ['a ligature', 'office fire drill at noon', (p: string) => p.replace('fi', 'ﬁ')],
    ['Hangul jamo', '한국어 비밀번호 문장', (p: string) => p.normalize('NFD')],
    ['a compatibility space', 'three quiet words', (p: string) => p.replaceAll(' ', '\u00a0')],
  ])('logs in: %s', async (_form, registered, typed) => {
    const username = freshName();
    expect((await register(username, registered)).status).toBe(201);
    expect(typed(registered)).not.toBe(registered);
    expect((await service.login(username, typed(registered))).status).toBe(200);
  });

  it('logs in with any canonically or compatibly equivalent form of the registered password', async () => {
    const forms = ['NFC', 'NFD', 'NFKC', 'NFKD'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
        fc.constantFrom(...forms),
        fc.constantFrom(...forms),
        async (text, registeredForm, typedForm) => {
          // A strong prefix, so the property is about equivalence and never about the strength rule.
          const password = `Ünïcödé ${text} zebra`;
          const username = freshName();
          expect((await register(username, password.normalize(registeredForm))).status).toBe(201);
          expect((await service.login(username, password.normalize(typedForm))).status).toBe(200);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('ill-formed UTF-16', () => {
  const loneSurrogates = '\ud800\ud801\ud802\ud803\ud804\ud805\ud806\ud807';

  it('eight lone surrogates are 400 invalid_request at register and login, and nothing is counted', async () => {
    const username = freshName();
    const registered = await register(username, loneSurrogates);
    expect(registered.status).toBe(400);
    expect(registered.json.error).toBe('invalid_request');
    expect((await register(username, 'a sound passphrase here')).status).toBe(201);
    for (const attempt of [loneSurrogates, '\udc00'.repeat(8), `${loneSurrogates.slice(0, 7)}x`]) {
      const answer = await service.login(username, attempt);
      expect(answer.status).toBe(400);
      expect(answer.json.error).toBe('invalid_request');
    }
    expect((await service.storedItem(`user#${username}`))?.hourCount).toBeUndefined();
    // What they would have collapsed to is a password like any other: a wrong one here.
    expect((await service.login(username, '\ufffd'.repeat(8))).status).toBe(401);
  });

  it("the issue's input: a password of lone surrogates cannot be registered, so U+FFFD x 8 logs into nothing", async () => {
    const username = freshName();
    expect((await register(username, loneSurrogates)).status).toBe(400);
    expect((await service.login(username, '\ufffd'.repeat(8))).status).toBe(401);
  });

  it('any password holding a lone surrogate is refused, wherever it sits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 8, maxLength: 20 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0xd800, max: 0xdfff }),
        async (text, at, unit) => {
          const password = text.slice(0, at) + String.fromCharCode(unit) + text.slice(at);
          expect(password.isWellFormed()).toBe(false);
          expect((await register(freshName(), password)).status).toBe(400);
          expect((await service.login(freshName(), password)).status).toBe(400);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('the strength rule', () => {
  it.each([
    ['full-width letters', 'ｐａｓｓｗｏｒｄ１２３'],
    ['a compatibility ligature', 'ﬁﬁﬁﬁﬁﬁﬁﬁ'],
    ['superscript digits', '¹²³⁴⁵⁶⁷⁸'],
    ['circled letters', 'ⓠⓦⓔⓡⓣⓨⓤⓘⓞⓟ'],
  ])('judges what is hashed (NFKC): %s normalise to a weak password', async (_form, password) => {
    expect(password.normalize('NFKC')).not.toBe(password);
    const answer = await register(freshName(), password);
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('weak_password');
  });

  it('refuses the most common passwords of a maintained list (zxcvbn-ts), in any case', async () => {
    const common = dictionary['passwords-common'].filter((password) => password.length >= 8);
    expect(dictionary['passwords-common'].length).toBeGreaterThanOrEqual(10_000);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...common), fc.boolean(), async (password, upper) => {
        const answer = await register(freshName(), upper ? password.toUpperCase() : password);
        expect(answer.json.error).toBe('weak_password');
      }),
      { numRuns: 40 },
    );
  });
});

describe('a hash stored before passwords were normalised', () => {
  it('keeps working for the form it was made from, and is replaced by the normalised form on that login', async () => {
    const decomposed = 'Café crème brûlée 1984'.normalize('NFD');
    const username = freshName();
    expect((await register(username, 'placeholder passphrase here')).status).toBe(201);
    // As an older release stored it: argon2 of the raw text as sent.
    const legacy = await createPasswordHasher(TEST_ARGON2_PARAMS).hash(decomposed);
    await db.send(
      new UpdateCommand({
        TableName: process.env.TABLE_NAME ?? defaults.TABLE_NAME,
        Key: { pk: `user#${username}` },
        UpdateExpression: 'SET passwordHash = :hash',
        ExpressionAttributeValues: { ':hash': legacy },
      }),
    );
    expect((await service.login(username, decomposed)).status).toBe(200);
    const rehashed = (await service.storedItem(`user#${username}`))?.passwordHash;
    expect(rehashed).not.toBe(legacy);
    // Now any form logs in, and a wrong password still does not.
    expect((await service.login(username, decomposed.normalize('NFC'))).status).toBe(200);
    expect((await service.login(username, decomposed)).status).toBe(200);
    expect((await service.login(username, 'Cafe creme brulee 1984')).status).toBe(401);
  });
});
