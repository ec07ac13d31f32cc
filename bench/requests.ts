import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { localDynamoClient } from '../infra/local/dynamo.ts';
import type { LocalServer } from '../infra/local/server.ts';
import { authorizerServices } from '../lib/authorizer-services.ts';
import { deliverMailRequest } from '../lib/mail/mailer.ts';
import type { MailRequest, OutgoingMail } from '../lib/mail/messages.ts';
import { totpCodeAt, totpStepAt } from '../lib/mfa/totp.ts';
import { defaultServices } from '../lib/services.ts';
import { type Post, sessionItemSizes, writeUnits } from './item-size.ts';
import type { Row } from './measure.ts';
import { countRequests } from './request-counter.ts';
import { TestAuthenticator } from './software-authenticator.ts';
import { countWriteUnits, type WriteUnits } from './write-units.ts';

const PASSWORD = 'correct horse battery staple';
const WRONG = 'not the password at all';

type Counts = Record<string, number>;
interface Answer {
  status: number;
  json: { accessToken?: string; refreshToken?: string; error?: string; [field: string]: unknown } | undefined;
}

/**
 * Runs of a path whose setup leaves check slots of the name held (its own login's lease, the password check of a
 * TOTP enrolment): the path's check picks one of LOGIN_MAX_FAILURES slots at random, and a pick that meets a held
 * one costs a read and another try (one GetItem and one UpdateItem more). With two of five held that is 2 in 5;
 * the budget is the cheapest run's, and eight runs all meeting a held slot happens about once in 1,500 benches
 * (three runs: once in 16, which made such budgets look broken, or drift up to the dearer count).
 */
const SLOT_PICK_SAMPLES = 8;

/**
 * One path through a function: what it sends and what it must answer. `budget` is the exact set of DynamoDB
 * requests it may send (a request more is a cost on every call of that path; one fewer, a check skipped).
 * Add a path here when you add one to a function.
 */
interface Path {
  name: string;
  expect: number;
  budget: Counts;
  /** The write units (table and index together) the path may bill, when it has a budget for them. */
  writeBudget?: number;
  /**
   * Runs of the path, each on fresh state; the budget is held against the cheapest, and a dearer run is shown
   * beside it. For paths with a random branch (a login's check-slot pick may meet a held slot: a read and
   * another try).
   */
  samples?: number;
  run(api: Api): Promise<Answer>;
}

interface Api {
  call(method: string, path: string, body?: unknown, bearer?: string, sourceIp?: string): Promise<Answer>;
  /** A fresh account name for this path. */
  user(): string;
  /** A fresh address. */
  email(): string;
  /** A fresh client address (so that the per-client limit of forgot starts empty). */
  client(): string;
  /**
   * Setup: an account with a fresh address (and `sessions` logins), and the link of a `purpose` mail to it
   * (a verification mail is queued by register; a reset mail is asked for and delivered), not counted.
   * With `deliver: false` the verification request is returned undelivered.
   */
  mailedLink(
    purpose: 'verify' | 'reset',
    sessions?: number,
    options?: { deliver?: boolean },
  ): Promise<{
    email: string;
    token: string;
    tokens: { accessToken: string; refreshToken: string };
    request: MailRequest;
  }>;
  /** The mailer's work on one request (what the mailer function does per SQS message): 200 when it is done. */
  deliver(request: MailRequest): Promise<Answer>;
  /** Registers `username` (and logs in `sessions` times): the setup of a path, not counted. */
  signUp(username: string, sessions?: number): Promise<{ accessToken: string; refreshToken: string }[]>;
  /** Counts only the requests of `flow`, the path's last step (after its setup). */
  measured(flow: () => Promise<Answer>): Promise<Answer>;
  /** The origin passkey ceremonies run on (the server's `WEBAUTHN_ORIGINS`). */
  origin: string;
  /** A new user with one passkey on a software authenticator: the setup of a passkey path, not counted. */
  enrol(): Promise<{
    username: string;
    tokens: { accessToken: string };
    authenticator: TestAuthenticator;
    passkeyId: string;
  }>;
}

/**
 * Setup: turns TOTP on for a signed-up user (enrolment and confirmation with the current step's code). A login
 * may then use the next step's code (RFC 6238's window of one step either side) or a recovery code.
 */
async function enrolTotp(api: Api, accessToken: string | undefined) {
  const started = await api.call('POST', '/auth/mfa/totp', { password: PASSWORD }, accessToken);
  const secret = String(started.json?.secret);
  const step = totpStepAt(Date.now());
  const confirmed = await api.call(
    'POST',
    '/auth/mfa/totp/confirm',
    { code: totpCodeAt(secret, step) },
    accessToken,
  );
  if (confirmed.status !== 200) throw new Error(`TOTP confirmation answered ${confirmed.status}`);
  return { secret, step, recoveryCodes: (confirmed.json?.recoveryCodes as string[] | undefined) ?? [] };
}

/** Setup: a user with a passkey, and an `mfaToken` from its password login. */
async function passkeyMfaLogin(api: Api) {
  const { username, authenticator } = await api.enrol();
  const answer = await api.call('POST', '/auth/login', { username, password: PASSWORD });
  return { authenticator, mfaToken: String(answer.json?.mfaToken) };
}

/** Setup: a user with TOTP on, and an `mfaToken` from its password login. */
async function mfaLogin(api: Api) {
  const username = api.user();
  const [tokens] = await api.signUp(username);
  const totp = await enrolTotp(api, tokens?.accessToken);
  const answer = await api.call('POST', '/auth/login', { username, password: PASSWORD });
  return { ...totp, username, mfaToken: String(answer.json?.mfaToken) };
}

const paths: Path[] = [
  {
    name: 'register',
    // A new user item written whole (PutItem), conditional on no account under the name.
    expect: 201,
    budget: { PutItem: 1 },
    run: (api) => api.call('POST', '/auth/register', { username: api.user(), password: PASSWORD }),
  },
  {
    name: 'register (name taken)',
    // The conditional write fails; one read tells someone else's account from our own retried write, and two
    // more (the holder's name item and account) whether the holder's account was deleted (its name is then free).
    expect: 409,
    budget: { PutItem: 1, GetItem: 3 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      return api.measured(() => api.call('POST', '/auth/register', { username, password: PASSWORD }));
    },
  },
  {
    name: 'login (clean account)',
    // The address's failure count (read), a check slot of the name taken by a conditional write that also reads
    // the account back (lib/operations/check-password.ts), the account state (roles, disabled, revocation
    // generation, and the hash that decides once the password was replaced), the new device token, then the
    // session.
    expect: 200,
    budget: { GetItem: 2, UpdateItem: 1, PutItem: 2 },
    // The check slot, the device, the session, and the session's entry in the live-session index.
    writeBudget: 4,
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      return api.measured(() => api.call('POST', '/auth/login', { username, password: PASSWORD }));
    },
  },
  {
    name: 'login from a known device',
    // The device, the name's item and the account in one read (lib/operations/check-password.ts,
    // checkWithDevice); the device's own count reserved; the session; the count cleared. Nothing of the name's.
    expect: 200,
    budget: { BatchGetItem: 1, UpdateItem: 2, PutItem: 1 },
    writeBudget: 4,
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      const { json } = await api.call('POST', '/auth/login', { username, password: PASSWORD });
      const deviceToken = json?.deviceToken;
      return api.measured(() =>
        api.call('POST', '/auth/login', { username, password: PASSWORD, deviceToken }),
      );
    },
  },
  {
    name: 'login from a known device (wrong password)',
    // The read and the reservation, which is the failure's count (below LOGIN_MAX_FAILURES nothing else).
    expect: 401,
    budget: { BatchGetItem: 1, UpdateItem: 1 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      const { json } = await api.call('POST', '/auth/login', { username, password: PASSWORD });
      const deviceToken = json?.deviceToken;
      return api.measured(() => api.call('POST', '/auth/login', { username, password: WRONG, deviceToken }));
    },
  },
  {
    name: 'login (wrong password)',
    // The address read, the slot, then the name's and the address's failure counts.
    expect: 401,
    budget: { GetItem: 1, UpdateItem: 3 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      return api.measured(() => api.call('POST', '/auth/login', { username, password: WRONG }));
    },
  },
  {
    name: 'login (unknown name)',
    // As a wrong password, so that the cost says nothing about who exists.
    expect: 401,
    budget: { GetItem: 1, UpdateItem: 3 },
    run: (api) => api.call('POST', '/auth/login', { username: api.user(), password: WRONG }),
  },
  {
    name: 'login after a failure (success)',
    samples: 5,
    expect: 200,
    // A clean login's five, and the write that clears the failure. The failure's slot stays held for a while:
    // a slot pick that meets it (1 in LOGIN_MAX_FAILURES) costs a read and another try, hence five samples.
    budget: { GetItem: 2, UpdateItem: 2, PutItem: 2 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      await api.call('POST', '/auth/login', { username, password: WRONG });
      return api.measured(() => api.call('POST', '/auth/login', { username, password: PASSWORD }));
    },
  },
  {
    name: 'login after a failure (wrong again)',
    samples: 5,
    expect: 401,
    budget: { GetItem: 1, UpdateItem: 3 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      await api.call('POST', '/auth/login', { username, password: WRONG });
      return api.measured(() => api.call('POST', '/auth/login', { username, password: WRONG }));
    },
  },
  {
    name: 'login (locked: 429)',
    // The address read, the refused slot, one read for Retry-After.
    expect: 429,
    budget: { GetItem: 2, UpdateItem: 1 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      for (let i = 0; i < defaultServices().config.loginMaxFailures; i += 1)
        await api.call('POST', '/auth/login', { username, password: WRONG });
      return api.measured(() => api.call('POST', '/auth/login', { username, password: PASSWORD }));
    },
  },
  {
    name: 'authorizer (GET /me, live session)',
    expect: 200,
    // One request: the session and its user's account (whole-user revocation) in one consistent BatchGetItem.
    budget: { BatchGetItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() => api.call('GET', '/me', undefined, tokens?.accessToken));
    },
  },
  {
    name: 'authorizer (GET /me, logged-out session)',
    expect: 401,
    budget: { BatchGetItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      await api.call('POST', '/auth/logout', undefined, tokens?.accessToken);
      return api.measured(() => api.call('GET', '/me', undefined, tokens?.accessToken));
    },
  },
  {
    name: 'authorizer (GET /me, token that does not verify)',
    expect: 401,
    budget: {},
    run: (api) => api.call('GET', '/me', undefined, 'not.a.token'),
  },
  {
    name: 'refresh (success)',
    expect: 200,
    // The session with its account (whole-user revocation, the roles for the new access token), then the write:
    // one write unit, the item staying within 1 KB with its sealed pair, and nothing in the index.
    budget: { BatchGetItem: 1, UpdateItem: 1 },
    writeBudget: 1,
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() => api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken }));
    },
  },
  {
    name: 'refresh (retry of the previous token: the same pair again)',
    expect: 200,
    // The read finds the previous token within the grace window, and the sealed pair is answered again; nothing
    // is written.
    budget: { BatchGetItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      await api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken });
      return api.measured(() => api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken }));
    },
  },
  {
    name: 'refresh (replay two rotations old: reuse, session revoked)',
    expect: 401,
    // The read shows an older token: the session is revoked (one write).
    budget: { BatchGetItem: 1, UpdateItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      const once = await api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken });
      await api.call('POST', '/auth/refresh', { refreshToken: once.json?.refreshToken });
      return api.measured(() => api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken }));
    },
  },
  {
    name: 'refresh (logged-out session)',
    expect: 401,
    budget: { BatchGetItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      await api.call('POST', '/auth/logout', undefined, tokens?.accessToken);
      return api.measured(() => api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken }));
    },
  },
  {
    name: 'logout',
    expect: 204,
    budget: { UpdateItem: 1 },
    // The session (one unit) and its entry leaving the live-session index.
    writeBudget: 2,
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() => api.call('POST', '/auth/logout', undefined, tokens?.accessToken));
    },
  },
  {
    name: 'logout-all (1 live session)',
    expect: 204,
    // Whatever the number of sessions: the authentication read and the one write that moves the user to its
    // next revocation generation. Nothing per session.
    budget: { BatchGetItem: 1, UpdateItem: 1 },
    async run(api) {
      const sessions = await api.signUp(api.user(), 1);
      return api.measured(() =>
        api.call('POST', '/auth/logout-all', undefined, sessions.at(-1)?.accessToken),
      );
    },
  },
  {
    name: 'list sessions (1 live)',
    expect: 200,
    // The authentication read, one query of the sparse index (revoked sessions are not in it), and one
    // BatchGetItem per 100 other sessions.
    budget: { BatchGetItem: 1, Query: 1 },
    async run(api) {
      const sessions = await api.signUp(api.user(), 1);
      for (const tokens of sessions.slice(0, 0))
        await api.call('POST', '/auth/logout', undefined, tokens.accessToken);
      return api.measured(() => api.call('GET', '/auth/sessions', undefined, sessions.at(-1)?.accessToken));
    },
  },
  {
    name: 'logout-all (100 live sessions)',
    expect: 204,
    // Whatever the number of sessions: the authentication read and the one write that moves the user to its
    // next revocation generation. Nothing per session.
    budget: { BatchGetItem: 1, UpdateItem: 1 },
    async run(api) {
      const sessions = await api.signUp(api.user(), 100);
      return api.measured(() =>
        api.call('POST', '/auth/logout-all', undefined, sessions.at(-1)?.accessToken),
      );
    },
  },
  {
    name: 'list sessions (100 live + 100 logged out)',
    expect: 200,
    // The authentication read, one query of the sparse index (revoked sessions are not in it), and one
    // BatchGetItem per 100 other sessions.
    budget: { BatchGetItem: 2, Query: 1 },
    async run(api) {
      const sessions = await api.signUp(api.user(), 200);
      for (const tokens of sessions.slice(0, 100))
        await api.call('POST', '/auth/logout', undefined, tokens.accessToken);
      return api.measured(() => api.call('GET', '/auth/sessions', undefined, sessions.at(-1)?.accessToken));
    },
  },
  {
    name: 'logout-all (1000 live sessions)',
    expect: 204,
    // Whatever the number of sessions: the authentication read and the one write that moves the user to its
    // next revocation generation. Nothing per session.
    budget: { BatchGetItem: 1, UpdateItem: 1 },
    async run(api) {
      const sessions = await api.signUp(api.user(), 1000);
      return api.measured(() =>
        api.call('POST', '/auth/logout-all', undefined, sessions.at(-1)?.accessToken),
      );
    },
  },
  {
    name: 'list sessions (1000 live)',
    expect: 200,
    // The authentication read, one query of the sparse index (revoked sessions are not in it), and one
    // BatchGetItem per 100 other sessions.
    budget: { BatchGetItem: 11, Query: 1 },
    async run(api) {
      const sessions = await api.signUp(api.user(), 1000);
      for (const tokens of sessions.slice(0, 0))
        await api.call('POST', '/auth/logout', undefined, tokens.accessToken);
      return api.measured(() => api.call('GET', '/auth/sessions', undefined, sessions.at(-1)?.accessToken));
    },
  },
  {
    name: 'revoke one session (DELETE /auth/sessions/{id})',
    expect: 204,
    budget: { BatchGetItem: 1, UpdateItem: 1 },
    async run(api) {
      const [other, caller] = await api.signUp(api.user(), 2);
      const sid = JSON.parse(Buffer.from(other?.accessToken.split('.')[1] ?? '', 'base64url').toString()).sid;
      return api.measured(() => api.call('DELETE', `/auth/sessions/${sid}`, undefined, caller?.accessToken));
    },
  },
  {
    name: 'TOTP enrolment (POST /auth/mfa/totp)',
    samples: SLOT_PICK_SAMPLES,
    expect: 200,
    // The authentication read; the password check on the session's own count (the name's and account items
    // read together, the count reserved and cleared); the pending secret written.
    budget: { BatchGetItem: 2, UpdateItem: 3 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() =>
        api.call('POST', '/auth/mfa/totp', { password: PASSWORD }, tokens?.accessToken),
      );
    },
  },
  {
    name: 'TOTP confirmation (POST /auth/mfa/totp/confirm)',
    expect: 200,
    // The authentication read; the user item (the pending secret, the last step); one conditional write turns
    // TOTP on with the step and the recovery codes' hashes.
    budget: { BatchGetItem: 1, GetItem: 1, UpdateItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      const started = await api.call('POST', '/auth/mfa/totp', { password: PASSWORD }, tokens?.accessToken);
      const code = totpCodeAt(String(started.json?.secret), totpStepAt(Date.now()));
      return api.measured(() => api.call('POST', '/auth/mfa/totp/confirm', { code }, tokens?.accessToken));
    },
  },
  {
    name: 'login (TOTP on: 401 mfa_required)',
    samples: SLOT_PICK_SAMPLES,
    expect: 401,
    // As a clean login, but the slot is released (no session proves the check over) and the mfaToken's
    // challenge is written instead of a session.
    budget: { GetItem: 2, UpdateItem: 2, PutItem: 1 },
    async run(api) {
      const username = api.user();
      const [tokens] = await api.signUp(username);
      await enrolTotp(api, tokens?.accessToken);
      return api.measured(() => api.call('POST', '/auth/login', { username, password: PASSWORD }));
    },
  },
  {
    name: 'login/mfa (TOTP code)',
    samples: SLOT_PICK_SAMPLES,
    expect: 200,
    // The challenge; the guarded check (the address read, a check slot, left to lapse: the session proves it);
    // the step accepted by a conditional write; the challenge used up; the account state; the new device token;
    // the session.
    budget: { GetItem: 3, UpdateItem: 3, PutItem: 2 },
    async run(api) {
      const { secret, step, mfaToken } = await mfaLogin(api);
      return api.measured(() =>
        api.call('POST', '/auth/login/mfa', { mfaToken, code: totpCodeAt(secret, step + 1) }),
      );
    },
  },
  {
    name: 'login/mfa (recovery code)',
    samples: SLOT_PICK_SAMPLES,
    expect: 200,
    // As with a TOTP code: the code used up by a conditional removal instead of the step.
    budget: { GetItem: 3, UpdateItem: 3, PutItem: 2 },
    async run(api) {
      const { recoveryCodes, mfaToken } = await mfaLogin(api);
      return api.measured(() =>
        api.call('POST', '/auth/login/mfa', { mfaToken, recoveryCode: recoveryCodes[0] }),
      );
    },
  },
  {
    name: 'login/mfa from a known device (recovery code)',
    samples: SLOT_PICK_SAMPLES,
    expect: 200,
    // The challenge; the device, the name's item and the account in one read (readKnownDevice); the device's own
    // count reserved; the code used up; the count cleared (and the device's life extended); the challenge used
    // up; the account state; the session. Nothing of the name's, the pair's or the address's; no new device.
    budget: { GetItem: 2, BatchGetItem: 1, UpdateItem: 4, PutItem: 1 },
    async run(api) {
      const { username, secret, step, recoveryCodes, mfaToken } = await mfaLogin(api);
      // The whole login once: its answer makes this device known.
      const first = await api.call('POST', '/auth/login/mfa', {
        mfaToken,
        code: totpCodeAt(secret, step + 1),
      });
      const deviceToken = first.json?.deviceToken;
      const again = await api.call('POST', '/auth/login', { username, password: PASSWORD, deviceToken });
      const next = String(again.json?.mfaToken);
      return api.measured(() =>
        api.call('POST', '/auth/login/mfa', { mfaToken: next, recoveryCode: recoveryCodes[0], deviceToken }),
      );
    },
  },
  {
    name: 'login/mfa (wrong code)',
    samples: SLOT_PICK_SAMPLES,
    expect: 401,
    // The challenge; the address read and the slot; the name's and the address's failure counts; the
    // challenge's wrong-code count.
    budget: { GetItem: 2, UpdateItem: 4 },
    async run(api) {
      const { secret, step, mfaToken } = await mfaLogin(api);
      const right = totpCodeAt(secret, step + 1);
      const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
      return api.measured(() => api.call('POST', '/auth/login/mfa', { mfaToken, code: wrong }));
    },
  },
  {
    name: 'authorizer (GET /me/sensitive, password-only session: step-up 401)',
    expect: 401,
    // Still the one request: the step-up rules are judged on the token's amr and auth_time.
    budget: { BatchGetItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() => api.call('GET', '/me/sensitive', undefined, tokens?.accessToken));
    },
  },
  {
    name: 'authorizer (GET /me/sensitive, fresh TOTP session)',
    samples: SLOT_PICK_SAMPLES,
    expect: 200,
    budget: { BatchGetItem: 1 },
    async run(api) {
      const { secret, step, mfaToken } = await mfaLogin(api);
      const login = await api.call('POST', '/auth/login/mfa', {
        mfaToken,
        code: totpCodeAt(secret, step + 1),
      });
      return api.measured(() => api.call('GET', '/me/sensitive', undefined, login.json?.accessToken));
    },
  },
  {
    name: 'new recovery codes (POST /auth/mfa/recovery-codes)',
    samples: SLOT_PICK_SAMPLES,
    expect: 200,
    // The authentication read; the password check on the session's own count; the new set written over the old.
    budget: { BatchGetItem: 2, UpdateItem: 3 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      await enrolTotp(api, tokens?.accessToken);
      return api.measured(() =>
        api.call('POST', '/auth/mfa/recovery-codes', { password: PASSWORD }, tokens?.accessToken),
      );
    },
  },
  {
    name: 'TOTP off (DELETE /auth/mfa/totp)',
    samples: SLOT_PICK_SAMPLES,
    expect: 204,
    budget: { BatchGetItem: 2, UpdateItem: 3 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      await enrolTotp(api, tokens?.accessToken);
      return api.measured(() =>
        api.call('DELETE', '/auth/mfa/totp', { password: PASSWORD }, tokens?.accessToken),
      );
    },
  },
  {
    name: 'password change (2 sessions)',
    samples: 5,
    expect: 204,
    // The authentication read; the password check on this session's own count (reserved, the name's and the
    // account's items in one read, cleared); the commit (new hash and next generation in one write), this
    // session carried over, the name's copy of the hash.
    budget: { BatchGetItem: 2, UpdateItem: 5 },
    async run(api) {
      const [, caller] = await api.signUp(api.user(), 2);
      return api.measured(() =>
        api.call(
          'POST',
          '/auth/password',
          { currentPassword: PASSWORD, newPassword: 'an entirely new passphrase' },
          caller?.accessToken,
        ),
      );
    },
  },
  {
    name: 'account deletion (2 sessions)',
    samples: 5,
    expect: 204,
    // The authentication read; the password check on this session's own count (as a password change's); the
    // index query; the commit write (the account marked deleted); one DeleteItem per item (the name's, the
    // passkeys' and each session's).
    budget: { BatchGetItem: 2, UpdateItem: 3, Query: 1, DeleteItem: 4 },
    async run(api) {
      const [, caller] = await api.signUp(api.user(), 2);
      return api.measured(() =>
        api.call('DELETE', '/auth/account', { password: PASSWORD }, caller?.accessToken),
      );
    },
  },
  // E-mail and account recovery. `SQS SendMessage` is a request queued for the mailer; `SES SendEmail` a mail sent.
  {
    name: 'register with an address',
    // The address's claim (a conditional PutItem), the account (PutItem), the verification mail queued.
    expect: 201,
    budget: { PutItem: 2, 'SQS SendMessage': 1 },
    run: (api) =>
      api.call('POST', '/auth/register', { username: api.user(), password: PASSWORD, email: api.email() }),
  },
  {
    name: 'password change of an account with an address (1 session)',
    samples: 5,
    expect: 204,
    // As the password change above, and the "your password was changed" notice queued for the mailer.
    budget: { BatchGetItem: 2, UpdateItem: 5, 'SQS SendMessage': 1 },
    async run(api) {
      const { tokens } = await api.mailedLink('verify');
      return api.measured(() =>
        api.call(
          'POST',
          '/auth/password',
          { currentPassword: PASSWORD, newPassword: 'an entirely new passphrase' },
          tokens.accessToken,
        ),
      );
    },
  },
  {
    name: 'account (GET /auth/account)',
    // The authentication read, then at once the name's item (address, verified, TOTP, recovery codes) and the
    // user's passkeys item (their count).
    expect: 200,
    budget: { BatchGetItem: 1, GetItem: 2 },
    async run(api) {
      const [tokens] = await api.signUp(api.user(), 1);
      return api.measured(() => api.call('GET', '/auth/account', undefined, tokens?.accessToken));
    },
  },
  {
    name: 'verify an address (POST /auth/email/verify)',
    // The link and the name's item read, the link redeemed, the address marked verified.
    expect: 204,
    budget: { GetItem: 2, UpdateItem: 2 },
    async run(api) {
      const { token } = await api.mailedLink('verify');
      return api.measured(() => api.call('POST', '/auth/email/verify', { token }));
    },
  },
  {
    name: 'change the address (POST /auth/email)',
    samples: 5,
    expect: 204,
    // The authentication read; the password check on the session's own count (a read, the count reserved and
    // cleared); the new address claimed, the account updated, the old claim given back; the verification mail
    // and the notice.
    budget: { BatchGetItem: 2, UpdateItem: 3, PutItem: 1, DeleteItem: 1, 'SQS SendMessage': 2 },
    async run(api) {
      const { tokens } = await api.mailedLink('verify');
      return api.measured(() =>
        api.call('POST', '/auth/email', { email: api.email(), password: PASSWORD }, tokens.accessToken),
      );
    },
  },
  {
    name: 'passkey registration options (fresh password check)',
    samples: 5,
    expect: 200,
    // The authentication read; the password check on the session's own count (a read, the count reserved and
    // cleared); the first time, the mark that the account may have passkeys (a password login then looks for
    // them); the user's passkeys (to exclude them); the challenge written.
    budget: { BatchGetItem: 2, GetItem: 1, UpdateItem: 3, PutItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() =>
        api.call('POST', '/auth/passkeys/register/options', { password: PASSWORD }, tokens?.accessToken),
      );
    },
  },
  {
    name: 'passkey registration',
    expect: 201,
    // The authentication read, the challenge taken (a conditional delete), the credential added (one write), the
    // name's item (the address a notice would go to: this account has none).
    budget: { BatchGetItem: 1, DeleteItem: 1, UpdateItem: 1, GetItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      const authenticator = new TestAuthenticator(api.origin);
      const options = await api.call(
        'POST',
        '/auth/passkeys/register/options',
        { password: PASSWORD },
        tokens?.accessToken,
      );
      const response = authenticator.register(
        options.json as unknown as PublicKeyCredentialCreationOptionsJSON,
      );
      return api.measured(() =>
        api.call('POST', '/auth/passkeys/register', { response }, tokens?.accessToken),
      );
    },
  },
  {
    name: 'passkey list',
    expect: 200,
    budget: { BatchGetItem: 1, GetItem: 1 },
    async run(api) {
      const { tokens } = await api.enrol();
      return api.measured(() => api.call('GET', '/auth/passkeys', undefined, tokens.accessToken));
    },
  },
  {
    name: 'passkey delete',
    expect: 204,
    // The authentication read, the credential removed, the name's item (the address a notice would go to).
    budget: { BatchGetItem: 1, UpdateItem: 1, GetItem: 1 },
    async run(api) {
      const { tokens, passkeyId } = await api.enrol();
      return api.measured(() =>
        api.call('DELETE', `/auth/passkeys/${passkeyId}`, undefined, tokens.accessToken),
      );
    },
  },
  {
    name: 'passkey sign-in options',
    expect: 200,
    // The challenge written; nothing read.
    budget: { PutItem: 1 },
    run: (api) => api.call('POST', '/auth/passkeys/login/options', {}),
  },
  {
    name: 'passkey sign-in (success)',
    samples: 5,
    expect: 200,
    // The challenge taken (conditional delete); the address read, the user's passkeys, a check slot taken
    // (lib/operations/check-passkey.ts, as a password check); the counter moved forward (conditional write);
    // the account state; the new device token; the session. A slot pick that meets a held slot costs a read and
    // another try.
    budget: { DeleteItem: 1, GetItem: 3, UpdateItem: 2, PutItem: 2 },
    async run(api) {
      const { authenticator } = await api.enrol();
      const options = (await api.call('POST', '/auth/passkeys/login/options', {}))
        .json as unknown as PublicKeyCredentialRequestOptionsJSON & { challengeId: string };
      const response = authenticator.assert(options);
      return api.measured(() =>
        api.call('POST', '/auth/passkeys/login', { challengeId: options.challengeId, response }),
      );
    },
  },
  {
    name: 'login (a passkey registered: 401 mfa_required, passkey offered)',
    samples: SLOT_PICK_SAMPLES,
    expect: 401,
    // As the TOTP account's mfa_required, and the user's passkeys read (the account is marked as possibly having
    // some): `passkey` is among the methods.
    budget: { GetItem: 3, UpdateItem: 2, PutItem: 1 },
    async run(api) {
      const { username } = await api.enrol();
      return api.measured(() => api.call('POST', '/auth/login', { username, password: PASSWORD }));
    },
  },
  {
    name: 'login/mfa/options (passkey as the second factor)',
    expect: 200,
    // The mfaToken's challenge and the user's passkeys read; the WebAuthn challenge written.
    budget: { GetItem: 2, PutItem: 1 },
    async run(api) {
      const { mfaToken } = await passkeyMfaLogin(api);
      return api.measured(() => api.call('POST', '/auth/login/mfa/options', { mfaToken }));
    },
  },
  {
    name: 'login/mfa (passkey)',
    samples: SLOT_PICK_SAMPLES,
    expect: 200,
    // The mfaToken's challenge; the guarded check (the address read, a check slot, left to lapse); the WebAuthn
    // challenge taken (conditional delete), the user's passkeys, the counter moved forward (conditional write);
    // the mfaToken used up; the account state; the session and a new device (no device token was sent).
    budget: { GetItem: 4, UpdateItem: 3, DeleteItem: 1, PutItem: 2 },
    async run(api) {
      const { mfaToken, authenticator } = await passkeyMfaLogin(api);
      const options = (await api.call('POST', '/auth/login/mfa/options', { mfaToken }))
        .json as unknown as PublicKeyCredentialRequestOptionsJSON;
      const passkey = authenticator.assert(options);
      return api.measured(() => api.call('POST', '/auth/login/mfa', { mfaToken, passkey }));
    },
  },
  {
    name: 'resend the verification mail (first in its hour)',
    // The authentication read, the name's item, the limit's new window, the mail queued.
    expect: 202,
    budget: { BatchGetItem: 1, GetItem: 1, UpdateItem: 1, 'SQS SendMessage': 1 },
    async run(api) {
      const { tokens } = await api.mailedLink('verify');
      return api.measured(() => api.call('POST', '/auth/email/resend', undefined, tokens.accessToken));
    },
  },
  {
    name: 'forgot password (address of an account)',
    // The client address's limit (a new window) and the request queued: nothing about the address.
    expect: 202,
    budget: { UpdateItem: 1, 'SQS SendMessage': 1 },
    async run(api) {
      const { email } = await api.mailedLink('verify');
      return api.measured(() =>
        api.call('POST', '/auth/password/forgot', { email }, undefined, api.client()),
      );
    },
  },
  {
    name: 'forgot password (address of no account)',
    // Exactly the same work as for an account's address.
    expect: 202,
    budget: { UpdateItem: 1, 'SQS SendMessage': 1 },
    run: (api) => api.call('POST', '/auth/password/forgot', { email: api.email() }, undefined, api.client()),
  },
  {
    name: 'reset the password (POST /auth/password/reset, 2 sessions)',
    expect: 204,
    // The link, the name's item and the account item (state and hash) read; the link redeemed; the new hash and
    // the whole-user revocation in one write (conditional on the hash the link was judged against), the name's
    // copy of the hash; the address verified; the lockout cleared; the notice queued.
    budget: { GetItem: 3, UpdateItem: 5, 'SQS SendMessage': 1 },
    async run(api) {
      const { token } = await api.mailedLink('reset', 2);
      return api.measured(() =>
        api.call('POST', '/auth/password/reset', { token, newPassword: 'an entirely new passphrase' }),
      );
    },
  },
  {
    name: 'reset the password with a TOTP code (TOTP on)',
    samples: SLOT_PICK_SAMPLES,
    expect: 204,
    // As the reset above, plus the guarded check of the code (the address read, a check slot, its release) and
    // the step accepted by a conditional write, all before the link is redeemed.
    budget: { GetItem: 4, UpdateItem: 8, 'SQS SendMessage': 1 },
    async run(api) {
      const { token, tokens } = await api.mailedLink('reset', 1);
      const { secret, step } = await enrolTotp(api, tokens.accessToken);
      return api.measured(() =>
        api.call('POST', '/auth/password/reset', {
          token,
          newPassword: 'an entirely new passphrase',
          code: totpCodeAt(secret, step + 1),
        }),
      );
    },
  },
  {
    name: 'reset the password without a code (TOTP on: 401 mfa_required)',
    expect: 401,
    // The link, the name's item and the account state read; nothing written, the link stays usable.
    budget: { GetItem: 3 },
    async run(api) {
      const { token, tokens } = await api.mailedLink('reset', 1);
      await enrolTotp(api, tokens.accessToken);
      return api.measured(() =>
        api.call('POST', '/auth/password/reset', { token, newPassword: 'an entirely new passphrase' }),
      );
    },
  },
  {
    name: 'mailer: forgot, address of an account',
    // The claim, the name's item and the account item (the hash the link is bound to) read, a slot of the
    // hourly reset limit, the link stored, the mail sent.
    expect: 200,
    budget: { GetItem: 3, UpdateItem: 1, PutItem: 1, 'SES SendEmail': 1 },
    async run(api) {
      const { email } = await api.mailedLink('verify');
      return api.measured(() => api.deliver({ kind: 'forgot', email }));
    },
  },
  {
    name: 'mailer: forgot, address of no account',
    // The claim read: nothing else, no mail.
    expect: 200,
    budget: { GetItem: 1 },
    run: (api) => api.measured(() => api.deliver({ kind: 'forgot', email: api.email() })),
  },
  {
    name: 'mailer: verification mail',
    // The name's item read (still that address, unverified), the link stored, the mail sent.
    expect: 200,
    budget: { GetItem: 1, PutItem: 1, 'SES SendEmail': 1 },
    async run(api) {
      const { request } = await api.mailedLink('verify', 0, { deliver: false });
      return api.measured(() => api.deliver(request));
    },
  },
  {
    name: 'mailer: notice',
    // Nothing to read: the mail.
    expect: 200,
    budget: { 'SES SendEmail': 1 },
    run: (api) =>
      api.measured(() =>
        api.deliver({ kind: 'notice', notice: 'password_reset', to: api.email(), username: api.user() }),
      ),
  },
  {
    name: 'passkey sign-in (bad signature: a failure on the lockout)',
    samples: 5,
    expect: 401,
    // As a wrong password: the challenge taken, the account state (read before the check, see passkey-login.ts),
    // the address read, the passkeys, the slot, then the name's and the address's failure counts.
    budget: { DeleteItem: 1, GetItem: 3, UpdateItem: 3 },
    async run(api) {
      const { authenticator } = await api.enrol();
      const options = (await api.call('POST', '/auth/passkeys/login/options', {}))
        .json as unknown as PublicKeyCredentialRequestOptionsJSON & { challengeId: string };
      const response = authenticator.assert(options, { badSignature: true });
      return api.measured(() =>
        api.call('POST', '/auth/passkeys/login', { challengeId: options.challengeId, response }),
      );
    },
  },
];

/**
 * How many DynamoDB requests each path of each flow sends (failures, retries and lockouts included, not only
 * the clean path), counted by an SDK middleware on the functions' own client, through the local gateway.
 */
export async function benchRequestsPerFlow(server: LocalServer): Promise<Row[]> {
  // The functions' SDK client and the authorizer's own: every request of every path.
  const counter = countRequests([defaultServices().db, authorizerServices().db]);
  const raw = localDynamoClient(server.dynamoDbEndpoint);
  const tableName = defaultServices().config.tableName;
  const units = countWriteUnits(defaultServices().db, raw, tableName);
  const runId = Date.now().toString(36);
  let users = 0;
  /** Set while a path's own requests are counted; its setup runs outside. */
  let measuredCounts: Counts | undefined;
  let measuredUnits: WriteUnits | undefined;
  // Mail: requests are recorded (one SQS SendMessage each on AWS) instead of delivered, and the mailer's sends
  // recorded (one SES SendEmail each) instead of written, so each is counted where it happens.
  const services = defaultServices();
  const { outbox, mail } = services;
  const realTransport = mail.transport;
  const queued: MailRequest[] = [];
  const sentMails: OutgoingMail[] = [];
  let mailCounts: Counts = {};
  const countMail = (op: string) => {
    mailCounts[op] = (mailCounts[op] ?? 0) + 1;
  };
  services.outbox = {
    async enqueue(request) {
      queued.push(request);
      countMail('SQS SendMessage');
    },
  };
  mail.transport = {
    name: 'bench',
    async send(outgoing) {
      sentMails.push(outgoing);
      countMail('SES SendEmail');
    },
  };
  const countsNow = (): Counts => ({ ...counter.counts(), ...mailCounts });
  const call: Api['call'] = async (method, path, body, bearer, sourceIp) => {
    const answer = await server.gateway.handle({
      method,
      path,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(bearer && { authorization: `Bearer ${bearer}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(sourceIp && { sourceIp }),
    });
    return { status: answer.status, json: answer.body ? JSON.parse(answer.body) : undefined };
  };
  const api: Api = {
    call,
    user: () => `bench-${runId}-${++users}`,
    email: () => `bench-${runId}-${++users}@example.com`,
    client: () => `10.250.${(++users >> 8) & 255}.${users & 255}`,
    async mailedLink(purpose, sessions = 0, options = {}) {
      const username = api.user();
      const email = `${username}@example.com`;
      const registered = await call('POST', '/auth/register', { username, password: PASSWORD, email });
      if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
      const request = queued.at(-1) as MailRequest;
      const tokens: { accessToken: string; refreshToken: string }[] = [];
      for (let i = 0; i < Math.max(sessions, 1); i += 1) {
        const { json } = await call('POST', '/auth/login', { username, password: PASSWORD });
        tokens.push({ accessToken: String(json?.accessToken), refreshToken: String(json?.refreshToken) });
      }
      if (options.deliver === false)
        return { email, token: '', tokens: tokens[0] as (typeof tokens)[number], request };
      await deliverMailRequest(services, purpose === 'verify' ? request : { kind: 'forgot', email });
      const token = new URL(String(sentMails.at(-1)?.link)).hash.replace(/^#token=/, '');
      return { email, token, tokens: tokens[0] as (typeof tokens)[number], request };
    },
    async deliver(request) {
      await deliverMailRequest(services, request);
      return { status: 200, json: undefined };
    },
    async signUp(username, sessions = 1) {
      const registered = await call('POST', '/auth/register', { username, password: PASSWORD });
      if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
      const pairs: { accessToken: string; refreshToken: string }[] = [];
      for (let i = 0; i < sessions; i += 1) {
        const { json } = await call('POST', '/auth/login', { username, password: PASSWORD });
        pairs.push({ accessToken: String(json?.accessToken), refreshToken: String(json?.refreshToken) });
      }
      return pairs;
    },
    async measured(flow) {
      counter.reset();
      units.reset();
      mailCounts = {};
      const answer = await flow();
      measuredCounts = countsNow();
      measuredUnits = units.units();
      return answer;
    },
    origin: defaultServices().config.webauthn.origins[0] ?? '',
    async enrol() {
      const username = api.user();
      const [tokens] = await api.signUp(username);
      const accessToken = String(tokens?.accessToken);
      const authenticator = new TestAuthenticator(api.origin);
      const options = await call(
        'POST',
        '/auth/passkeys/register/options',
        { password: PASSWORD },
        accessToken,
      );
      const registered = await call(
        'POST',
        '/auth/passkeys/register',
        {
          response: authenticator.register(options.json as unknown as PublicKeyCredentialCreationOptionsJSON),
        },
        accessToken,
      );
      if (registered.status !== 201) throw new Error(`passkey registration answered ${registered.status}`);
      return {
        username,
        tokens: { accessToken },
        authenticator,
        passkeyId: String(registered.json?.passkeyId),
      };
    },
  };
  const show = (c: Counts) =>
    Object.entries(c)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, n]) => `${n} ${op}`)
      .join(' + ') || '0';
  const total = (c: Counts) => Object.values(c).reduce((a, b) => a + b, 0);
  const rows: Row[] = [];
  try {
    for (const path of paths) {
      const runs: Counts[] = [];
      const unitRuns: WriteUnits[] = [];
      for (let sample = 0; sample < (path.samples ?? 1); sample += 1) {
        measuredCounts = undefined;
        measuredUnits = undefined;
        counter.reset();
        units.reset();
        mailCounts = {};
        const answer = await path.run(api);
        // A path without a setup is counted whole; one with a setup marks its measured step itself.
        runs.push(measuredCounts ?? countsNow());
        unitRuns.push(measuredUnits ?? units.units());
        if (answer.status !== path.expect)
          throw new Error(`${path.name}: answered ${answer.status}, expected ${path.expect}`);
      }
      runs.sort((a, b) => total(a) - total(b));
      const counts = runs[0] ?? {};
      const dearest = runs.at(-1) ?? {};
      const cheapestUnits = unitRuns.sort((a, b) => a.table + a.index - (b.table + b.index))[0] ?? {
        table: 0,
        index: 0,
      };
      const unitTotal = cheapestUnits.table + cheapestUnits.index;
      rows.push({
        figure: `DynamoDB requests; write units (table + index): ${path.name}`,
        value:
          show(counts) +
          (total(dearest) > total(counts) ? ` (dearest of ${runs.length}: ${show(dearest)})` : '') +
          `; ${unitTotal} WU (${cheapestUnits.table} + ${cheapestUnits.index})`,
        budget: show(path.budget) + (path.writeBudget === undefined ? '' : `; <= ${path.writeBudget} WU`),
        met:
          Object.entries(path.budget).every(([op, n]) => counts[op] === n) &&
          total(counts) === total(path.budget) &&
          (path.writeBudget === undefined || unitTotal <= path.writeBudget),
      });
    }
    rows.push(...(await sessionItemRows(server, raw, tableName, 'HS256')));
  } finally {
    counter.remove();
    units.remove();
    raw.destroy();
    services.outbox = outbox;
    mail.transport = realTransport;
  }
  return rows;
}

/**
 * The session item's size after a login, a refresh and a logout with the longest client, for `algorithm` (the
 * service's): DynamoDB bills a write by the item's size in 1 KB units, so each must stay within 1 KB for one
 * unit per rotation (HS256 and ES256; an RS256 pair alone is 0.6 KB sealed).
 */
export async function sessionItemRows(
  server: Pick<LocalServer, 'gateway'>,
  raw: ReturnType<typeof localDynamoClient>,
  tableName: string,
  algorithm: string,
): Promise<Row[]> {
  const post: Post = async (path, body, options) => {
    const answer = await server.gateway.handle({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', ...options.headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(options.sourceIp && { sourceIp: options.sourceIp }),
    });
    return answer.body ? JSON.parse(answer.body) : undefined;
  };
  const sizes = await sessionItemSizes(
    post,
    raw,
    tableName,
    `size-${algorithm.toLowerCase()}-${Date.now().toString(36)}`,
  );
  const oneUnit = algorithm !== 'RS256';
  return (['login', 'refresh', 'logout'] as const).map((step) => ({
    figure: `DynamoDB item: a session after ${step === 'login' ? 'a login' : step === 'refresh' ? 'a refresh (with its sealed pair)' : 'a logout'} (${algorithm}, longest client)`,
    value: `${sizes[step]} bytes = ${writeUnits(sizes[step])} write unit(s)`,
    budget: oneUnit ? '<= 1024 bytes' : '-',
    met: oneUnit ? sizes[step] <= 1024 : undefined,
  }));
}
