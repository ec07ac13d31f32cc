import type { LocalServer } from '../infra/local/server.ts';
import { defaultServices } from '../lib/services.ts';
import { countRequests } from '../test/support/sdk-middleware.ts';
import type { Row } from './measure.ts';

const PASSWORD = 'correct horse battery staple';

/** How many DynamoDB requests each flow sends, counted by an SDK middleware on the functions' own client. */
export async function benchRequestsPerFlow(server: LocalServer): Promise<Row[]> {
  const counter = countRequests(defaultServices().db);
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await fetch(server.url + path, {
      method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(token && { authorization: `Bearer ${token}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  /** Runs `flow`, checks its status and returns the requests it sent. */
  const measure = async (flow: () => Promise<{ status: number }>, expected: number) => {
    counter.reset();
    const { status } = await flow();
    if (status !== expected) throw new Error(`flow answered ${status}, expected ${expected}`);
    return counter.counts();
  };
  const rows: Row[] = [];
  const row = (
    figure: string,
    counts: Record<string, number>,
    budget: Record<string, number> | undefined,
  ) => {
    const show = (c: Record<string, number>) =>
      Object.entries(c)
        .map(([op, n]) => `${n} ${op}`)
        .join(' + ') || '0';
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    rows.push({
      figure: `DynamoDB requests: ${figure}`,
      value: show(counts),
      budget: budget ? show(budget) : '-',
      met: budget
        ? Object.entries(budget).every(([op, n]) => counts[op] === n) && total(counts) === total(budget)
        : undefined,
    });
  };
  try {
    const username = `bench-${Date.now()}`;
    await call('POST', '/auth/register', { username, password: PASSWORD });
    // A login (checkPassword, lib/operations/check-password.ts): the address's failure count (read), a check slot
    // of the name taken by a conditional write that also reads the account back, the user's account state (roles,
    // disabled, revocation generation), then the session.
    row(
      'login (success)',
      await measure(() => call('POST', '/auth/login', { username, password: PASSWORD }), 200),
      { GetItem: 2, UpdateItem: 1, PutItem: 1 },
    );
    const fresh = async (tag: string) => {
      const name = `${username}-${tag}`;
      await call('POST', '/auth/register', { username: name, password: PASSWORD });
      return name;
    };
    const wrong = (name: string) =>
      call('POST', '/auth/login', { username: name, password: 'wrong password 1' });
    // A wrong password (or an unknown name): the address read, the slot, then the name's and the address's counts.
    row('login (wrong password)', await measure(() => wrong(username), 401), { GetItem: 1, UpdateItem: 3 });
    row('login (unknown name)', await measure(() => wrong(`${username}-nobody`), 401), {
      GetItem: 1,
      UpdateItem: 3,
    });
    // A success after a failure also clears it (one more write). The failure's slot is held for LOGIN_LOCKOUT_BASE:
    // a slot pick that meets it (1 in LOGIN_MAX_FAILURES) costs a read and a second try, so the cheapest of a few
    // fresh names is the flow's cost and the dearest shows that case.
    const afterFailure: Record<string, number>[] = [];
    for (let i = 0; i < 5; i += 1) {
      const name = await fresh(`after-failure-${i}`);
      await wrong(name);
      afterFailure.push(
        await measure(() => call('POST', '/auth/login', { username: name, password: PASSWORD }), 200),
      );
    }
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    afterFailure.sort((a, b) => total(a) - total(b));
    row('login (success after a failure: clears it)', afterFailure[0] ?? {}, {
      GetItem: 2,
      UpdateItem: 2,
      PutItem: 1,
    });
    row(
      'login (same, its slot pick meeting a held slot; dearest of 5)',
      afterFailure.at(-1) ?? {},
      undefined,
    );
    // Locked (the (name, address) pair): the address read, the refused slot, one read for Retry-After.
    const locked = await fresh('locked');
    for (let i = 0; i < defaultServices().config.loginMaxFailures; i += 1) await wrong(locked);
    row(
      'login (429 too_many_attempts)',
      await measure(() => call('POST', '/auth/login', { username: locked, password: PASSWORD }), 429),
      { GetItem: 2, UpdateItem: 1 },
    );
    const login = await call('POST', '/auth/login', { username, password: PASSWORD });
    const me = await measure(() => call('GET', '/me', undefined, login.json.accessToken), 200);
    // One request: the session and its user's account (whole-user revocation) in one consistent BatchGetItem.
    row('authorizer (GET /me)', me, { BatchGetItem: 1 });
    let refreshed: { status: number; json: { refreshToken: string; accessToken: string } } | undefined;
    const refresh = await measure(async () => {
      refreshed = await call('POST', '/auth/refresh', { refreshToken: login.json.refreshToken });
      return refreshed;
    }, 200);
    // The session with its account (whole-user revocation, the roles for the new access token), then the write.
    row('refresh (success)', refresh, { BatchGetItem: 1, UpdateItem: 1 });
    // The retry path (a lost answer, a racing tab): the read finds the previous token within the grace window,
    // and the sealed pair is answered again; nothing is written.
    let retried: { status: number; json: { refreshToken: string } } | undefined;
    row(
      'refresh (retry of the previous token: same pair again)',
      await measure(async () => {
        retried = await call('POST', '/auth/refresh', { refreshToken: login.json.refreshToken });
        return retried;
      }, 200),
      { BatchGetItem: 1 },
    );
    if (retried?.json.refreshToken !== refreshed?.json.refreshToken)
      throw new Error('the retry of the previous token was not answered with the pair its rotation issued');
    // What a rotation writes: DynamoDB bills a write by the item's size, in 1 KB units (names plus values).
    const sid = JSON.parse(
      Buffer.from(login.json.refreshToken.split('.')[1] ?? '', 'base64url').toString(),
    ).sid;
    const item = await defaultServices().sessions.getSession(sid);
    const bytes = Object.entries(item ?? {}).reduce(
      (sum, [name, value]) =>
        sum +
        Buffer.byteLength(name) +
        (value instanceof Uint8Array ? value.byteLength : Buffer.byteLength(String(value))),
      0,
    );
    rows.push({
      figure: 'DynamoDB item: a session after a rotation (with its sealed pair)',
      value: `${bytes} bytes = ${Math.ceil(bytes / 1024)} write unit(s)`,
      budget: '-',
      met: undefined,
    });
    row(
      'logout',
      await measure(() => call('POST', '/auth/logout', undefined, refreshed?.json.accessToken), 204),
      { UpdateItem: 1 },
    );
    // Session management: a user of its own per figure, with exactly `sessions` live sessions (and, for the
    // listing, as many revoked ones: the sparse index keeps them out of what a listing costs).
    const userWith = async (tag: string, sessions: number, revoked = 0) => {
      const name = await fresh(tag);
      let last: { json: { accessToken: string } } | undefined;
      for (let i = 0; i < sessions + revoked; i += 1) {
        last = await call('POST', '/auth/login', { username: name, password: PASSWORD });
        if (i < revoked) await call('POST', '/auth/logout', undefined, last.json.accessToken);
      }
      return { name, access: last?.json.accessToken as string };
    };
    for (const sessions of [1, 100, 1000]) {
      const listed = await userWith(`list-${sessions}`, sessions, sessions === 100 ? 100 : 0);
      const started = performance.now();
      const counts = await measure(() => call('GET', '/auth/sessions', undefined, listed.access), 200);
      const ms = performance.now() - started;
      row(
        `list sessions (${sessions} live${sessions === 100 ? ' + 100 revoked' : ''}; ${ms.toFixed(0)} ms locally)`,
        counts,
        // The authentication read, one index query, and one BatchGetItem per 100 other sessions.
        sessions === 1
          ? { BatchGetItem: 1, Query: 1 }
          : { BatchGetItem: 1 + Math.ceil((sessions - 1) / 100), Query: 1 },
      );
      const started2 = performance.now();
      const all = await measure(() => call('POST', '/auth/logout-all', undefined, listed.access), 204);
      const ms2 = performance.now() - started2;
      // Whatever the number of sessions: the authentication read and the one write that moves the generation.
      row(`logout-all (${sessions} live sessions; ${ms2.toFixed(0)} ms locally)`, all, {
        BatchGetItem: 1,
        UpdateItem: 1,
      });
    }
    const revoking = await userWith('revoke-one', 2);
    const victim = await call('POST', '/auth/login', { username: revoking.name, password: PASSWORD });
    const victimSid = JSON.parse(
      Buffer.from(victim.json.accessToken.split('.')[1] ?? '', 'base64url').toString(),
    ).sid;
    row(
      'revoke one session (DELETE /auth/sessions/{id})',
      await measure(() => call('DELETE', `/auth/sessions/${victimSid}`, undefined, revoking.access), 204),
      { BatchGetItem: 1, UpdateItem: 1 },
    );
    // A password change: the authentication read, the password check (the address read, a check slot, its
    // release), then the three writes (the other sessions revoked, this one carried over, the new hash): 1
    // BatchGetItem + 1 GetItem + 5 UpdateItem once the check slots of the user's logins have lapsed (as
    // test/integration/request-counts.test.ts asserts with a fake clock). Here, right after those logins, the
    // check meets a held slot (a read and a second try); the cheapest of a few users is shown.
    const changes: Record<string, number>[] = [];
    for (let i = 0; i < 3; i += 1) {
      const changing = await userWith(`password-${i}`, 2);
      changes.push(
        await measure(
          () =>
            call(
              'POST',
              '/auth/password',
              { currentPassword: PASSWORD, newPassword: 'an entirely new passphrase' },
              changing.access,
            ),
          204,
        ),
      );
    }
    changes.sort((a, b) => total(a) - total(b));
    row('password change (2 sessions, right after their logins; cheapest of 3)', changes[0] ?? {}, undefined);
    // An account deletion: the authentication read, the password check, the index query, the commit write,
    // then one DeleteItem per item (the name's, and each session's); right after the logins, as above.
    const deleting = await userWith('delete', 2);
    row(
      'account deletion (2 sessions, right after their logins)',
      await measure(() => call('DELETE', '/auth/account', { password: PASSWORD }, deleting.access), 204),
      undefined,
    );
  } finally {
    counter.remove();
  }
  return rows;
}
