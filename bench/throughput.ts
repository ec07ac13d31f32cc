import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import type { LocalServer } from '../infra/local/server.ts';
import type { Row } from './measure.ts';

const PASSWORD = 'correct horse battery staple';

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  responses: number;
  non2xx: number;
  errors: number;
}

export async function cannon(options: autocannon.Options): Promise<Load> {
  const result = await autocannon(options);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    responses: result['2xx'] + result.non2xx,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

export const show = (load: Load) =>
  `${load.rps.toFixed(0)} req/s, p50 ${load.p50} ms, p99 ${load.p99} ms` +
  (load.non2xx + load.errors > 0 ? `, ${load.non2xx} non-2xx, ${load.errors} errors` : '');

export interface ThroughputOptions {
  /** Seconds per target. */
  duration: number;
  connections: number;
}

/**
 * The local server under autocannon on loopback (bounded in time): `GET /me` (authorizer + handler) and
 * `POST /auth/refresh` (each connection rotating its own session's tokens), beside a bare `node:http` server
 * answering a constant, in the same process and run.
 */
export async function benchThroughput(
  server: LocalServer,
  options: ThroughputOptions = { duration: 5, connections: 10 },
): Promise<Row[]> {
  const bare = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  try {
    const post = async (path: string, body: unknown) =>
      (await fetch(server.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json())) as { accessToken: string; refreshToken: string };
    const username = `bench-load-${Date.now()}`;
    await post('/auth/register', { username, password: PASSWORD });
    // One session per connection for refresh, each rotated in turn; /me shares one access token.
    const pool: { refreshToken: string }[] = [];
    for (let i = 0; i < options.connections; i += 1)
      pool.push(await post('/auth/login', { username, password: PASSWORD }));
    const { accessToken } = await post('/auth/login', { username, password: PASSWORD });
    const { port } = bare.address() as AddressInfo;

    const common = { connections: options.connections, duration: options.duration };
    const baseline = await cannon({ ...common, url: `http://127.0.0.1:${port}/` });
    const me = await cannon({
      ...common,
      url: `${server.url}/me`,
      headers: { authorization: `Bearer ${accessToken}` },
    });
    type Slot = { session?: { refreshToken: string } };
    const refresh = await cannon({
      ...common,
      url: server.url,
      requests: [
        {
          method: 'POST',
          path: '/auth/refresh',
          headers: { 'content-type': 'application/json' },
          setupRequest: (request, context) => {
            const slot = context as Slot;
            slot.session = pool.pop();
            if (!slot.session) throw new Error('more refreshes in flight than sessions');
            return { ...request, body: JSON.stringify({ refreshToken: slot.session.refreshToken }) };
          },
          onResponse: (status, body, context) => {
            const slot = context as Slot;
            if (!slot.session) return;
            // A rotated session goes back with its new token; any other answer keeps the old one.
            if (status === 200) slot.session.refreshToken = JSON.parse(body).refreshToken;
            pool.push(slot.session);
            slot.session = undefined;
          },
        },
      ],
    });
    const clean = (load: Load) => load.responses > 0 && load.non2xx === 0 && load.errors === 0;
    return [
      {
        figure: 'throughput: bare node:http (baseline)',
        value: show(baseline),
        budget: '-',
        met: undefined,
      },
      {
        figure: 'throughput: GET /me (authorizer + handler)',
        value: `${show(me)} (${((100 * me.rps) / baseline.rps).toFixed(1)}% of bare)`,
        budget: 'every answer 2xx',
        met: clean(me),
      },
      {
        figure: 'throughput: POST /auth/refresh (rotation)',
        value: `${show(refresh)} (${((100 * refresh.rps) / baseline.rps).toFixed(1)}% of bare)`,
        budget: 'every answer 2xx',
        met: clean(refresh),
      },
    ];
  } finally {
    bare.closeAllConnections();
    await new Promise<void>((resolve) => bare.close(() => resolve()));
  }
}
