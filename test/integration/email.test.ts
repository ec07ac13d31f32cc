import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countRequests } from '../../bench/request-counter.ts';
import { deliverMailRequest } from '../../lib/mail/mailer.ts';
import type { MailRequest } from '../../lib/mail/messages.ts';
import { defaultServices } from '../../lib/services.ts';
import { hashLinkSecret } from '../../lib/store/links.ts';
import { localOutbox, mailsIn, mailsTo } from '../support/mailbox.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());
// Every request of this file has a mail to send or nothing to send: none fails and is retried or dead-lettered.
afterEach(async () => {
  await localOutbox().idle();
  expect(localOutbox().deadLetters).toEqual([]);
});

let count = 0;
const nextName = () => `mailer-${++count}-${Math.random().toString(36).slice(2, 8)}`;
const addressOf = (name: string) => `${name}@example.com`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const NEW_PASSWORD = 'a brand new passphrase';

async function registerWithEmail(name: string, email = addressOf(name)) {
  const registered = await service.post('/auth/register', {
    username: name,
    password: DEFAULT_PASSWORD,
    email,
  });
  expect(registered.status).toBe(201);
  const tokens = (await service.login(name)).json;
  return { tokens, email: email.trim().toLowerCase() };
}

const mailbox = (to: string) => mailsTo(service.server.mailDir, to);
const account = (accessToken: string) =>
  service.request('GET', '/auth/account', { headers: bearer(accessToken) });

let clients = 0;
/** A client address of its own for each request, so that the per-client limit of forgot stays out of the way. */
const someClient = () => {
  clients += 1;
  return `10.${clients >> 16}.${(clients >> 8) & 255}.${clients & 255}`;
};
const forgot = (email: string) =>
  service.request('POST', '/auth/password/forgot', { body: { email }, sourceIp: someClient() });

async function resetLinkFor(email: string): Promise<string> {
  const before = (await mailbox(email)).length;
  expect((await forgot(email)).status).toBe(202);
  const mails = await mailbox(email);
  expect(mails.length).toBe(before + 1);
  const token = mails.at(-1)?.token;
  expect(token).toBeTypeOf('string');
  return token as string;
}

describe('addresses on accounts', () => {
  it('register stores the address lower-cased and trimmed, and mails a verification link that verifies it', async () => {
    const name = nextName();
    const registered = await service.post('/auth/register', {
      username: name,
      password: DEFAULT_PASSWORD,
      email: `  ${addressOf(name).toUpperCase()} `,
    });
    expect(registered.status).toBe(201);
    expect(registered.json).toEqual({ userId: expect.any(String), username: name, email: addressOf(name) });
    const tokens = (await service.login(name)).json;
    expect((await account(tokens.accessToken)).json).toEqual({
      userId: registered.json.userId,
      username: name,
      email: addressOf(name),
      emailVerified: false,
      mfa: { totp: false, passkeys: 0, recoveryCodesLeft: 0 },
    });
    const [mail] = await mailbox(addressOf(name));
    expect(mail?.subject).toBe('Verify your e-mail address');
    expect(mail?.link?.startsWith('http://localhost/verify-email#token=')).toBe(true);
    const verified = await service.post('/auth/email/verify', { token: mail?.token });
    expect(verified.status).toBe(204);
    expect((await account(tokens.accessToken)).json.emailVerified).toBe(true);
    // Single use.
    expect((await service.post('/auth/email/verify', { token: mail?.token })).json.error).toBe(
      'invalid_link',
    );
  });

  it('register without an address answers email null, and the account shows none', async () => {
    const name = nextName();
    const registered = await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD });
    expect(registered.json.email).toBeNull();
    const tokens = (await service.login(name)).json;
    expect((await account(tokens.accessToken)).json).toMatchObject({ email: null, emailVerified: false });
  });

  it.each([
    ['no @', 'nobody.example.com'],
    ['two @', 'a@b@example.com'],
    ['a space inside', 'a b@example.com'],
    ['a control character', 'a\u0007b@example.com'],
    ['nothing before the @', '@example.com'],
    ['over 254 characters', `${'a'.repeat(250)}@example.com`],
    ['not a string', 42],
  ])('register refuses an address with %s (400 invalid_request)', async (_, email) => {
    const answer = await service.post('/auth/register', {
      username: nextName(),
      password: DEFAULT_PASSWORD,
      email,
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  it('an address belongs to one account, whatever its case (409 email_taken), and the name stays free', async () => {
    const first = nextName();
    await registerWithEmail(first);
    const second = nextName();
    const taken = await service.post('/auth/register', {
      username: second,
      password: DEFAULT_PASSWORD,
      email: addressOf(first).toUpperCase(),
    });
    expect(taken.status).toBe(409);
    expect(taken.json.error).toBe('email_taken');
    expect(
      (await service.post('/auth/register', { username: second, password: DEFAULT_PASSWORD })).status,
    ).toBe(201);
  });

  it('of registrations racing for one address under different names, exactly one gets it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), async (racers) => {
        const email = addressOf(nextName());
        const answers = await Promise.all(
          Array.from({ length: racers }, () =>
            service.post('/auth/register', { username: nextName(), password: DEFAULT_PASSWORD, email }),
          ),
        );
        expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
        expect(answers.filter((a) => a.status === 409).every((a) => a.json.error === 'email_taken')).toBe(
          true,
        );
      }),
      { numRuns: 8 },
    );
  });

  it('a registration that loses its name gives the address back', async () => {
    const holder = nextName();
    await registerWithEmail(holder);
    const email = addressOf(nextName());
    const lost = await service.post('/auth/register', {
      username: holder,
      password: DEFAULT_PASSWORD,
      email,
    });
    expect(lost.json.error).toBe('username_taken');
    expect(
      (await service.post('/auth/register', { username: nextName(), password: DEFAULT_PASSWORD, email }))
        .status,
    ).toBe(201);
  });

  it('GET /auth/account needs a live session', async () => {
    const { tokens } = await registerWithEmail(nextName());
    await service.post('/auth/logout', undefined, bearer(tokens.accessToken));
    expect((await account(tokens.accessToken)).json.error).toBe('session_revoked');
    expect((await service.request('GET', '/auth/account')).json.error).toBe('invalid_token');
  });
});

describe('POST /auth/email and /auth/email/resend', () => {
  it('changes the address (unverified), mails the new one a link and the old one a notice, and frees the old one', async () => {
    const name = nextName();
    const { tokens, email: old } = await registerWithEmail(name);
    // The old address's verification mail, delivered before the change (the mailer sends none for an address
    // the account no longer has, which a slower store can otherwise make this test see).
    expect((await mailbox(old))[0]?.subject).toBe('Verify your e-mail address');
    const fresh = addressOf(nextName());
    const changed = await service.post(
      '/auth/email',
      { email: fresh, password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    expect(changed.status).toBe(204);
    expect((await account(tokens.accessToken)).json).toMatchObject({ email: fresh, emailVerified: false });
    const [verification] = await mailbox(fresh);
    expect(verification?.subject).toBe('Verify your e-mail address');
    const oldMails = await mailbox(old);
    expect(oldMails.at(-1)?.subject).toBe('Your e-mail address was changed');
    expect(oldMails.at(-1)?.token).toBeUndefined();
    // The old address's link no longer verifies anything, and is refused before anything is written; the new
    // one verifies.
    const oldLink = `link#${hashLinkSecret(String(oldMails[0]?.token))}`;
    const unredeemed = await service.storedItem(oldLink);
    expect(unredeemed).toBeDefined();
    expect((await service.post('/auth/email/verify', { token: oldMails[0]?.token })).json.error).toBe(
      'invalid_link',
    );
    expect(await service.storedItem(oldLink)).toEqual(unredeemed);
    expect((await service.post('/auth/email/verify', { token: verification?.token })).status).toBe(204);
    // The old address is free again.
    expect(
      (await service.post('/auth/register', { username: nextName(), password: DEFAULT_PASSWORD, email: old }))
        .status,
    ).toBe(201);
  });

  it('refuses a wrong password (401 invalid_credentials) and an address of another account (409)', async () => {
    const { tokens } = await registerWithEmail(nextName());
    const other = await registerWithEmail(nextName());
    const wrong = await service.post(
      '/auth/email',
      { email: addressOf(nextName()), password: 'not the password' },
      bearer(tokens.accessToken),
    );
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_credentials');
    const taken = await service.post(
      '/auth/email',
      { email: other.email, password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    expect(taken.status).toBe(409);
    expect(taken.json.error).toBe('email_taken');
  });

  it('resends the verification mail at most 3 times an hour (then 429 with Retry-After)', async () => {
    const { tokens, email } = await registerWithEmail(nextName());
    for (let i = 0; i < 3; i += 1) {
      const answer = await service.post('/auth/email/resend', undefined, bearer(tokens.accessToken));
      expect(answer.status).toBe(202);
    }
    const refused = await service.post('/auth/email/resend', undefined, bearer(tokens.accessToken));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await mailbox(email)).toHaveLength(4);
  });

  it('resend for a verified address is 202 with no mail and uses up nothing; without an address it is 400', async () => {
    const { tokens, email } = await registerWithEmail(nextName());
    const [link] = await mailbox(email);
    expect((await service.post('/auth/email/verify', { token: link?.token })).status).toBe(204);
    // More than the hourly three: none of them counts against the limit, none sends a mail.
    for (let i = 0; i < 4; i += 1)
      expect((await service.post('/auth/email/resend', undefined, bearer(tokens.accessToken))).status).toBe(
        202,
      );
    expect(await mailbox(email)).toHaveLength(1);

    const name = nextName();
    await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD });
    const { accessToken } = (await service.login(name)).json;
    const without = await service.post('/auth/email/resend', undefined, bearer(accessToken));
    expect(without.status).toBe(400);
    expect(without.json.error).toBe('invalid_request');
  });
});

describe('POST /auth/password/forgot', () => {
  it('answers byte-identically for known, unknown, unverified and rate-limited addresses', async () => {
    const verifiedName = nextName();
    const verified = await registerWithEmail(verifiedName);
    const [link] = await mailbox(verified.email);
    await service.post('/auth/email/verify', { token: link?.token });
    const unverified = await registerWithEmail(nextName());
    const limited = await registerWithEmail(nextName());
    for (let i = 0; i < 4; i += 1) await forgot(limited.email);
    const answers = await Promise.all(
      [verified.email, addressOf(nextName()), unverified.email, limited.email].map((email) => forgot(email)),
    );
    const shape = (a: (typeof answers)[number]) => ({
      status: a.status,
      body: a.text,
      headers: [...a.headers],
    });
    expect(answers[0]?.status).toBe(202);
    expect(answers[0]?.text).toBe('{}');
    for (const answer of answers.slice(1))
      expect(shape(answer)).toEqual(shape(answers[0] as (typeof answers)[number]));
  });

  it('does the same work on the request path for any address: the same DynamoDB requests, one queued request', async () => {
    const { email } = await registerWithEmail(nextName());
    // Nothing of an earlier mail still on its way (the mailer shares the client counted here).
    await mailbox(email);
    const services = defaultServices();
    const counter = countRequests(services.db, 'forgot-identical');
    const queued: unknown[] = [];
    const outbox = services.outbox;
    services.outbox = { enqueue: async (request) => void queued.push(request) };
    try {
      const sent: string[][] = [];
      for (const address of [email, addressOf(nextName())]) {
        counter.reset();
        expect((await forgot(address)).status).toBe(202);
        sent.push([...counter.sent]);
      }
      expect(sent[0]).toEqual(['UpdateItem']);
      expect(sent[1]).toEqual(sent[0]);
      expect(queued).toEqual([
        { kind: 'forgot', email },
        { kind: 'forgot', email: expect.stringMatching(/@example\.com$/) },
      ]);
    } finally {
      services.outbox = outbox;
      counter.remove();
    }
  });

  it('sends a reset mail to the account holding the address, at most 3 an hour', async () => {
    const { email } = await registerWithEmail(nextName());
    for (let i = 0; i < 5; i += 1) expect((await forgot(email.toUpperCase())).status).toBe(202);
    const resets = (await mailbox(email)).filter((mail) => mail.subject === 'Reset your password');
    expect(resets).toHaveLength(3);
  });

  it('sends nothing for an address no account holds', async () => {
    const email = addressOf(nextName());
    expect((await forgot(email)).status).toBe(202);
    expect(await mailbox(email)).toHaveLength(0);
  });

  it('refuses a malformed address with 400 invalid_request', async () => {
    const answer = await service.post('/auth/password/forgot', { email: 'not an address' });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  it('one client address gets at most 10 requests an hour mailed, still answered 202', async () => {
    const sourceIp = '198.51.100.77';
    const accounts = [];
    for (let i = 0; i < 11; i += 1) accounts.push(await registerWithEmail(nextName()));
    for (const { email } of accounts) {
      const answer = await service.request('POST', '/auth/password/forgot', { body: { email }, sourceIp });
      expect(answer.status).toBe(202);
    }
    let resets = 0;
    for (const { email } of accounts)
      resets += (await mailbox(email)).filter((mail) => mail.subject === 'Reset your password').length;
    expect(resets).toBe(10);
  });
});

describe('POST /auth/password/reset', () => {
  it('replaces the password, ends every session everywhere, verifies the address and sends a notice', async () => {
    const name = nextName();
    const { tokens, email } = await registerWithEmail(name);
    const second = (await service.login(name)).json;
    const token = await resetLinkFor(email);
    const reset = await service.post('/auth/password/reset', { token, newPassword: NEW_PASSWORD });
    expect(reset.status).toBe(204);
    for (const session of [tokens, second]) {
      expect((await service.me(session.accessToken)).status).toBe(401);
      expect((await service.post('/auth/refresh', { refreshToken: session.refreshToken })).json.error).toBe(
        'session_revoked',
      );
      const listed = await service.request('GET', '/auth/sessions', { headers: bearer(session.accessToken) });
      expect(listed.json.error).toBe('session_revoked');
    }
    expect((await service.login(name, DEFAULT_PASSWORD)).status).toBe(401);
    const fresh = await service.login(name, NEW_PASSWORD);
    expect(fresh.status).toBe(200);
    expect((await account(fresh.json.accessToken)).json.emailVerified).toBe(true);
    const notice = (await mailbox(email)).at(-1);
    expect(notice?.subject).toBe('Your password was reset');
    // Used: a second redemption fails.
    expect(
      (await service.post('/auth/password/reset', { token, newPassword: 'yet another passphrase' })).json
        .error,
    ).toBe('invalid_link');
  });

  it('of concurrent redemptions of one link, exactly one succeeds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 8 }), async (racers) => {
        const { email } = await registerWithEmail(nextName());
        const token = await resetLinkFor(email);
        const answers = await Promise.all(
          Array.from({ length: racers }, (_, i) =>
            service.post('/auth/password/reset', { token, newPassword: `${NEW_PASSWORD} number ${i}` }),
          ),
        );
        expect(answers.filter((a) => a.status === 204)).toHaveLength(1);
        expect(answers.filter((a) => a.status !== 204).every((a) => a.json.error === 'invalid_link')).toBe(
          true,
        );
      }),
      { numRuns: 6 },
    );
  });

  it('a reset kills every other outstanding reset link of the account', async () => {
    const { email } = await registerWithEmail(nextName());
    const first = await resetLinkFor(email);
    const second = await resetLinkFor(email);
    expect(
      (await service.post('/auth/password/reset', { token: second, newPassword: NEW_PASSWORD })).status,
    ).toBe(204);
    const stale = await service.post('/auth/password/reset', {
      token: first,
      newPassword: 'yet another passphrase',
    });
    expect(stale.json.error).toBe('invalid_link');
  });

  it('a weak or missing new password leaves the link usable', async () => {
    const name = nextName();
    const { email } = await registerWithEmail(name);
    const token = await resetLinkFor(email);
    const weak = await service.post('/auth/password/reset', { token, newPassword: 'short' });
    expect(weak.json.error).toBe('weak_password');
    const missing = await service.post('/auth/password/reset', { token });
    expect(missing.json.error).toBe('invalid_request');
    expect((await service.post('/auth/password/reset', { token, newPassword: NEW_PASSWORD })).status).toBe(
      204,
    );
  });

  it('refuses an unknown or malformed link with 400 invalid_link', async () => {
    for (const token of ['', 'x', 'A'.repeat(43), 'not a token at all, with spaces']) {
      const answer = await service.post('/auth/password/reset', { token, newPassword: NEW_PASSWORD });
      expect(answer.status).toBe(400);
      expect(answer.json.error).toBe('invalid_link');
    }
  });

  it('a verification link is no reset link, and a reset link no verification link', async () => {
    const { email } = await registerWithEmail(nextName());
    const [verification] = await mailbox(email);
    const reset = await resetLinkFor(email);
    expect(
      (await service.post('/auth/password/reset', { token: verification?.token, newPassword: NEW_PASSWORD }))
        .json.error,
    ).toBe('invalid_link');
    expect((await service.post('/auth/email/verify', { token: reset })).json.error).toBe('invalid_link');
  });

  it('the store keeps only a hash of a link secret', async () => {
    const { email } = await registerWithEmail(nextName());
    const token = await resetLinkFor(email);
    const item = await service.storedItem(`link#${hashLinkSecret(token)}`);
    expect(item?.purpose).toBe('reset');
    expect(JSON.stringify(item)).not.toContain(token);
    expect(typeof item?.ttl).toBe('number');
  });
});

describe('POST /auth/password (change) and the notice', () => {
  it('a password change mails the account’s address a notice with no link and no secret; an account without an address gets none', async () => {
    const name = nextName();
    const { tokens, email } = await registerWithEmail(name);
    const before = (await mailbox(email)).length;
    const changed = await service.post(
      '/auth/password',
      { currentPassword: DEFAULT_PASSWORD, newPassword: NEW_PASSWORD },
      bearer(tokens.accessToken),
    );
    expect(changed.status).toBe(204);
    const mails = await mailbox(email);
    expect(mails.slice(before).map((mail) => mail.subject)).toEqual(['Your password was changed']);
    const notice = mails.at(-1);
    expect(notice?.link).toBeUndefined();
    expect(notice?.text).toContain(name);
    for (const secret of [DEFAULT_PASSWORD, NEW_PASSWORD, tokens.accessToken, tokens.refreshToken])
      expect(notice?.raw).not.toContain(secret);

    // A wrong current password changes nothing and mails nothing.
    const wrong = await service.post(
      '/auth/password',
      { currentPassword: 'not the password at all', newPassword: 'yet another passphrase' },
      bearer(tokens.accessToken),
    );
    expect(wrong.status).toBe(401);
    expect(await mailbox(email)).toHaveLength(mails.length);

    const plain = await service.signUp(nextName());
    const everyMail = (await mailsIn(service.server.mailDir)).length;
    const plainChange = await service.post(
      '/auth/password',
      { currentPassword: DEFAULT_PASSWORD, newPassword: NEW_PASSWORD },
      bearer(plain.accessToken),
    );
    expect(plainChange.status).toBe(204);
    await mailbox('nobody@example.com'); // waits for the queue to drain
    expect(await mailsIn(service.server.mailDir)).toHaveLength(everyMail);
  });
});

describe('the mailer decides at send time', () => {
  // Requests handed to the mailer as the queue hands them, after the account changed since they were queued.
  const deliver = (request: MailRequest) => deliverMailRequest(defaultServices(), request);

  it('sends no verification link for an address the account no longer has, nor for one it has verified', async () => {
    const name = nextName();
    const { tokens, email: old } = await registerWithEmail(name);
    const { sub: userId } = claimsOf(tokens.accessToken);
    const fresh = addressOf(nextName());
    expect(
      (
        await service.post(
          '/auth/email',
          { email: fresh, password: DEFAULT_PASSWORD },
          bearer(tokens.accessToken),
        )
      ).status,
    ).toBe(204);
    const before = (await mailbox(old)).length;
    await deliver({ kind: 'verify', userId: String(userId), username: name, email: old });
    expect(await mailbox(old)).toHaveLength(before);

    const [verification] = await mailbox(fresh);
    expect((await service.post('/auth/email/verify', { token: verification?.token })).status).toBe(204);
    await deliver({ kind: 'verify', userId: String(userId), username: name, email: fresh });
    expect(await mailbox(fresh)).toHaveLength(1);
  });

  it('sends no reset link through a claim the account item does not confirm (a change that failed half-way)', async () => {
    const name = nextName();
    const { tokens } = await registerWithEmail(name);
    const { sub: userId } = claimsOf(tokens.accessToken);
    // A claim left on an address the account never took (its item names another).
    const stray = addressOf(nextName());
    expect(
      await defaultServices().emails.claim({
        email: stray,
        userId: String(userId),
        username: name,
        claimedAt: 0,
      }),
    ).toEqual({ claimed: true });
    await deliver({ kind: 'forgot', email: stray });
    expect(await mailbox(stray)).toHaveLength(0);
  });
});

describe('mail', () => {
  it('no mail carries a password, an access token or a refresh token', async () => {
    const name = nextName();
    const { tokens, email } = await registerWithEmail(name);
    const token = await resetLinkFor(email);
    await service.post('/auth/password/reset', { token, newPassword: NEW_PASSWORD });
    const mails = await mailsIn(service.server.mailDir);
    expect(mails.length).toBeGreaterThan(0);
    for (const mail of mails) {
      for (const secret of [
        DEFAULT_PASSWORD,
        NEW_PASSWORD,
        tokens.accessToken,
        tokens.refreshToken,
        claimsOf(tokens.accessToken).jti,
      ])
        expect(mail.raw).not.toContain(secret);
    }
  });
});
