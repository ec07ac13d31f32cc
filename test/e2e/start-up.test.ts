import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm start` answers as the service from its first connection on: a client that connects the moment the port
 * opens (before the URL is printed, while the functions are still loading) gets the service's answer, never a
 * 503 of the start-up.
 */
let child: ChildProcess | undefined;
afterAll(() => {
  try {
    if (child?.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
});

/** A port that was free a moment ago (the server is started on it: the test must know it before it prints). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** One GET on a fresh connection: its status, or the connection error's code (refused: not listening yet). */
const get = (port: number, path: string) =>
  new Promise<number | string>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    req.end();
  });

describe('npm start, starting up', () => {
  it('answers the first request that reaches its port with the service, not a 503', async () => {
    const port = await freePort();
    child = spawn('npm', ['start', '--', '--in-memory'], {
      env: { ...process.env, PORT: String(port), JWT_SECRET: '' },
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    // Knock until the port answers at all (a deadline, not a wait): that first answer is the one that counts.
    const deadline = Date.now() + 60_000;
    let first: number | string = 'ECONNREFUSED';
    while (first === 'ECONNREFUSED' && Date.now() < deadline) {
      first = await get(port, '/me');
      if (first === 'ECONNREFUSED') await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // The authorizer's own answer to a call without a token: the service is there.
    expect(first).toBe(401);
  }, 90_000);
});
