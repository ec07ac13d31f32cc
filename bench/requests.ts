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
    row(
      'login (success)',
      await measure(() => call('POST', '/auth/login', { username, password: PASSWORD }), 200),
      { GetItem: 1, PutItem: 1 },
    );
    const login = await call('POST', '/auth/login', { username, password: PASSWORD });
    const me = await measure(() => call('GET', '/me', undefined, login.json.accessToken), 200);
    row('authorizer (GET /me)', me, { GetItem: 1 });
    let refreshed: { status: number; json: { refreshToken: string; accessToken: string } } | undefined;
    const refresh = await measure(async () => {
      refreshed = await call('POST', '/auth/refresh', { refreshToken: login.json.refreshToken });
      return refreshed;
    }, 200);
    row('refresh (success)', refresh, { UpdateItem: 1 });
    // The retry path (a lost answer, a racing tab): its conditional write fails, one read finds the previous
    // token within the grace window, and the sealed pair is answered again; nothing more is written.
    let retried: { status: number; json: { refreshToken: string } } | undefined;
    row(
      'refresh (retry of the previous token: same pair again)',
      await measure(async () => {
        retried = await call('POST', '/auth/refresh', { refreshToken: login.json.refreshToken });
        return retried;
      }, 200),
      { UpdateItem: 1, GetItem: 1 },
    );
    if (retried?.json.refreshToken !== refreshed?.json.refreshToken)
      throw new Error('the retry of the previous token was not answered with the pair its rotation issued');
    row(
      'logout',
      await measure(() => call('POST', '/auth/logout', undefined, refreshed?.json.accessToken), 204),
      { UpdateItem: 1 },
    );
    // A user of its own, so that exactly `sessions` sessions are live.
    const sessions = 3;
    const other = `${username}-all`;
    await call('POST', '/auth/register', { username: other, password: PASSWORD });
    let last: { json: { accessToken: string } } | undefined;
    for (let i = 0; i < sessions; i += 1)
      last = await call('POST', '/auth/login', { username: other, password: PASSWORD });
    row(
      `logout-all (${sessions} live sessions)`,
      await measure(() => call('POST', '/auth/logout-all', undefined, last?.json.accessToken), 204),
      { Query: 1, UpdateItem: sessions },
    );
  } finally {
    counter.remove();
  }
  return rows;
}
