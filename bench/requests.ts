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
    expect: 201,
    budget: { UpdateItem: 1 },
    run: (api) => api.call('POST', '/auth/register', { username: api.user(), password: PASSWORD }),
  },
  {
    name: 'register (name taken)',
    expect: 409,
    budget: { UpdateItem: 1, GetItem: 1 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      return api.measured(() => api.call('POST', '/auth/register', { username, password: PASSWORD }));
    },
  },
  {
    name: 'login (clean account)',
    expect: 200,
    budget: { GetItem: 1, PutItem: 1 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      return api.measured(() => api.call('POST', '/auth/login', { username, password: PASSWORD }));
    },
  },
  {
    name: 'login (wrong password)',
    expect: 401,
    budget: { GetItem: 1, UpdateItem: 1 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      return api.measured(() => api.call('POST', '/auth/login', { username, password: WRONG }));
    },
  },
  {
    name: 'login (unknown name)',
    expect: 401,
    budget: { GetItem: 1, UpdateItem: 1 },
    run: (api) => api.call('POST', '/auth/login', { username: api.user(), password: WRONG }),
  },
  {
    name: 'login after a failure (success)',
    expect: 200,
    // The read, the claim on the check (failures on record serialise checks), the success that clears the
    // counters and releases the claim, and the session.
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
    expect: 401,
    budget: { GetItem: 1, UpdateItem: 2 },
    async run(api) {
      const username = api.user();
      await api.signUp(username, 0);
      await api.call('POST', '/auth/login', { username, password: WRONG });
      return api.measured(() => api.call('POST', '/auth/login', { username, password: WRONG }));
    },
  },
  {
    name: 'login (locked: 429)',
    expect: 429,
    budget: { GetItem: 1 },
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
      measuredCounts = undefined;
      counter.reset();
      const answer = await path.run(api);
      // A path without a setup is counted whole; one with a setup marks its measured step itself.
      const counts = measuredCounts ?? counter.counts();
      if (answer.status !== path.expect)
        throw new Error(`${path.name}: answered ${answer.status}, expected ${path.expect}`);
      rows.push({
        figure: `DynamoDB requests: ${path.name}`,
        value: show(counts),
        budget: show(path.budget),
        met:
          Object.entries(path.budget).every(([op, n]) => counts[op] === n) &&
          total(counts) === total(path.budget),
      });
    }
  } finally {
    counter.remove();
  }
  return rows;
}
