import { localDynamoClient } from '../infra/local/dynamo.ts';
import type { LocalServer } from '../infra/local/server.ts';
import { authorizerServices } from '../lib/authorizer-services.ts';
import { defaultServices } from '../lib/services.ts';
import { type Post, sessionItemSizes, writeUnits } from './item-size.ts';
import type { Row } from './measure.ts';
import { countRequests } from './request-counter.ts';
import { countWriteUnits, type WriteUnits } from './write-units.ts';

const PASSWORD = 'correct horse battery staple';
const WRONG = 'not the password at all';

type Counts = Record<string, number>;
interface Answer {
  status: number;
  json: { accessToken?: string; refreshToken?: string; error?: string } | undefined;
}

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
  call(method: string, path: string, body?: unknown, bearer?: string): Promise<Answer>;
  /** A fresh account name for this path. */
  user(): string;
  /** Registers `username` (and logs in `sessions` times): the setup of a path, not counted. */
  signUp(username: string, sessions?: number): Promise<{ accessToken: string; refreshToken: string }[]>;
  /** Counts only the requests of `flow`, the path's last step (after its setup). */
  measured(flow: () => Promise<Answer>): Promise<Answer>;
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
    // generation, and the hash that decides once the password was replaced), then the session.
    expect: 200,
    budget: { GetItem: 2, UpdateItem: 1, PutItem: 1 },
    // The check slot, the session, and the session's entry in the live-session index.
    writeBudget: 3,
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      return api.measured(() => api.call('POST', '/auth/login', { username, password: PASSWORD }));
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
    // A clean login's three, and the write that clears the failure. The failure's slot stays held for a while:
    // a slot pick that meets it (1 in LOGIN_MAX_FAILURES) costs a read and another try, hence five samples.
    budget: { GetItem: 2, UpdateItem: 2, PutItem: 1 },
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
    name: 'password change (2 sessions)',
    samples: 5,
    expect: 204,
    // The authentication read; the password check (the address read, a check slot, the account item with the
    // hash that decides, the slot's release); the commit (new hash and next generation in one write), this
    // session carried over, the name's copy of the hash. A slot pick that meets a login's held slot costs a
    // read and another try, hence five samples.
    budget: { BatchGetItem: 1, GetItem: 2, UpdateItem: 5 },
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
    // The authentication read; the password check (its account read included); the index query; the commit
    // write (the account marked deleted); one DeleteItem per item (the name's and each session's).
    budget: { BatchGetItem: 1, GetItem: 2, UpdateItem: 3, Query: 1, DeleteItem: 3 },
    async run(api) {
      const [, caller] = await api.signUp(api.user(), 2);
      return api.measured(() =>
        api.call('DELETE', '/auth/account', { password: PASSWORD }, caller?.accessToken),
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
  const call: Api['call'] = async (method, path, body, bearer) => {
    const answer = await server.gateway.handle({
      method,
      path,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(bearer && { authorization: `Bearer ${bearer}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: answer.status, json: answer.body ? JSON.parse(answer.body) : undefined };
  };
  const api: Api = {
    call,
    user: () => `bench-${runId}-${++users}`,
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
      const answer = await flow();
      measuredCounts = counter.counts();
      measuredUnits = units.units();
      return answer;
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
        const answer = await path.run(api);
        // A path without a setup is counted whole; one with a setup marks its measured step itself.
        runs.push(measuredCounts ?? counter.counts());
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
