import type { LocalServer } from '../infra/local/server.ts';
import { defaultServices } from '../lib/services.ts';
import type { Row } from './measure.ts';
import { countRequests } from './request-counter.ts';

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
    // The conditional write fails; one read tells someone else's account from our own retried write.
    expect: 409,
    budget: { PutItem: 1, GetItem: 1 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      return api.measured(() => api.call('POST', '/auth/register', { username, password: PASSWORD }));
    },
  },
  {
    name: 'login (clean account)',
    // The address's failure count (read), a check slot of the name taken by a conditional write that also reads
    // the account back, then the session (lib/operations/check-password.ts).
    expect: 200,
    budget: { GetItem: 1, UpdateItem: 1, PutItem: 1 },
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
    budget: { GetItem: 1, UpdateItem: 2, PutItem: 1 },
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
    budget: { GetItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() => api.call('GET', '/me', undefined, tokens?.accessToken));
    },
  },
  {
    name: 'authorizer (GET /me, logged-out session)',
    expect: 401,
    budget: { GetItem: 1 },
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
    budget: { UpdateItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() => api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken }));
    },
  },
  {
    name: 'refresh (retry of the previous token: the same pair again)',
    expect: 200,
    // The conditional write fails, one read finds the previous token within the grace window, and the sealed
    // pair is answered again; nothing more is written.
    budget: { UpdateItem: 1, GetItem: 1 },
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      await api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken });
      return api.measured(() => api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken }));
    },
  },
  {
    name: 'refresh (replay two rotations old: reuse, session revoked)',
    expect: 401,
    budget: { UpdateItem: 2, GetItem: 1 },
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
    budget: { UpdateItem: 1, GetItem: 1 },
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
    async run(api) {
      const [tokens] = await api.signUp(api.user());
      return api.measured(() => api.call('POST', '/auth/logout', undefined, tokens?.accessToken));
    },
  },
  {
    name: 'logout-all (3 live sessions)',
    expect: 204,
    budget: { Query: 1, UpdateItem: 3 },
    async run(api) {
      const sessions = await api.signUp(api.user(), 3);
      return api.measured(() =>
        api.call('POST', '/auth/logout-all', undefined, sessions.at(-1)?.accessToken),
      );
    },
  },
];

/**
 * How many DynamoDB requests each path of each flow sends (failures, retries and lockouts included, not only
 * the clean path), counted by an SDK middleware on the functions' own client, through the local gateway.
 */
export async function benchRequestsPerFlow(server: LocalServer): Promise<Row[]> {
  const counter = countRequests(defaultServices().db);
  const runId = Date.now().toString(36);
  let users = 0;
  /** Set while a path's own requests are counted; its setup runs outside. */
  let measuredCounts: Counts | undefined;
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
      const answer = await flow();
      measuredCounts = counter.counts();
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
      for (let sample = 0; sample < (path.samples ?? 1); sample += 1) {
        measuredCounts = undefined;
        counter.reset();
        const answer = await path.run(api);
        // A path without a setup is counted whole; one with a setup marks its measured step itself.
        runs.push(measuredCounts ?? counter.counts());
        if (answer.status !== path.expect)
          throw new Error(`${path.name}: answered ${answer.status}, expected ${path.expect}`);
      }
      runs.sort((a, b) => total(a) - total(b));
      const counts = runs[0] ?? {};
      const dearest = runs.at(-1) ?? {};
      rows.push({
        figure: `DynamoDB requests: ${path.name}`,
        value:
          show(counts) +
          (total(dearest) > total(counts) ? ` (dearest of ${runs.length}: ${show(dearest)})` : ''),
        budget: show(path.budget),
        met:
          Object.entries(path.budget).every(([op, n]) => counts[op] === n) &&
          total(counts) === total(path.budget),
      });
    }
    rows.push(await sessionItemSize(api));
  } finally {
    counter.remove();
  }
  return rows;
}

/** What a rotation writes: DynamoDB bills a write by the item's size, in 1 KB units (names plus values). */
async function sessionItemSize(api: Api): Promise<Row> {
  const [tokens] = await api.signUp(api.user());
  await api.call('POST', '/auth/refresh', { refreshToken: tokens?.refreshToken });
  const sid = JSON.parse(Buffer.from(tokens?.refreshToken.split('.')[1] ?? '', 'base64url').toString()).sid;
  const item = await defaultServices().sessions.getSession(sid);
  const bytes = Object.entries(item ?? {}).reduce(
    (sum, [name, value]) =>
      sum +
      Buffer.byteLength(name) +
      (value instanceof Uint8Array ? value.byteLength : Buffer.byteLength(String(value))),
    0,
  );
  return {
    figure: 'DynamoDB item: a session after a rotation (with its sealed pair)',
    value: `${bytes} bytes = ${Math.ceil(bytes / 1024)} write unit(s)`,
    budget: '-',
    met: undefined,
  };
}
