import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTable, type LocalDynamo, startLocalDynamo } from '../../infra/local/dynamo.ts';
import { defaults } from '../../lib/config.ts';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import { claimsOf, DEFAULT_PASSWORD, TEST_SECRET } from '../support/service.ts';
import { type StoreReader, storeReader } from '../support/store.ts';

const root = resolve(import.meta.dirname, '../..');
let dynamo: LocalDynamo;
let store: StoreReader;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await createTable(dynamo.endpoint, defaults.TABLE_NAME);
  store = storeReader(dynamo.endpoint, defaults.TABLE_NAME);
});
afterAll(async () => {
  store.close();
  await dynamo.close();
});

/** The service as `npm start` runs it, in a process of its own, over the store that outlives it. */
async function startServiceProcess(): Promise<{ url: string; child: ChildProcess }> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('AWS_') && name !== 'TABLE_NAME') env[name] = value;
  }
  const child = spawn(process.execPath, [resolve(root, 'infra/local/main.ts')], {
    // A grace window longer than a restart on a busy machine: the superseded tokens below are retried after it.
    env: {
      ...env,
      PORT: '0',
      JWT_SECRET: TEST_SECRET,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      REFRESH_REUSE_GRACE: '120',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const url = await new Promise<string>((found, fail) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) found(match[1] as string);
    });
    child.once('exit', (code) => fail(new Error(`service exited (${code}) before listening: ${output}`)));
  });
  return { url, child };
}

async function post(url: string, path: string, body: unknown) {
  const response = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

describe('a process killed mid-request', () => {
  it('loses nothing it acknowledged: every 200 login has its session, every 200 refresh its rotation', async () => {
    const first = await startServiceProcess();
    const users = ['death-a', 'death-b', 'death-c', 'death-d'];
    for (const username of users) {
      expect((await post(first.url, '/auth/register', { username, password: DEFAULT_PASSWORD })).status).toBe(
        201,
      );
    }
    /** The newest refresh token acknowledged (answered 200) for each session. */
    const acknowledged = new Map<string, string>();
    let cutOff = 0;
    let stop = false;
    // Each client logs in and refreshes its session as fast as it can, logging in afresh every few rounds, until
    // the process dies under it.
    const client = async (username: string) => {
      try {
        while (!stop) {
          const login = await post(first.url, '/auth/login', { username, password: DEFAULT_PASSWORD });
          expect(login.status).toBe(200);
          let token: string = login.json.refreshToken;
          acknowledged.set(claimsOf(token).sid, token);
          for (let i = 0; i < 5 && !stop; i += 1) {
            const refreshed = await post(first.url, '/auth/refresh', { refreshToken: token });
            expect(refreshed.status).toBe(200);
            token = refreshed.json.refreshToken;
            acknowledged.set(claimsOf(token).sid, token);
          }
        }
      } catch (error) {
        if ((error as Error).name === 'AssertionError') throw error;
        cutOff += 1; // the connection died with the process: this request was never acknowledged
      }
    };
    const clients = users.map(client);
    // Kill it once the clients have got going (more sessions acknowledged than clients: some logged in
    // afresh), waiting on that event with a deadline rather than a fixed time, which a busy machine outruns.
    const deadline = Date.now() + 30_000;
    while (acknowledged.size <= users.length + 2 && Date.now() < deadline)
      await new Promise((wait) => setTimeout(wait, 20));
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    stop = true;
    await Promise.all(clients);
    expect(cutOff).toBeGreaterThan(0); // requests really were in flight when the process died
    expect(acknowledged.size).toBeGreaterThan(users.length);

    // From the store itself: each acknowledged token is its session's current one, unless a rotation that was
    // in flight at the kill got written (then the acknowledged token is the session's previous one).
    const current: [string, string][] = [];
    const superseded: [string, string][] = [];
    for (const [sid, token] of acknowledged) {
      const { Item } = await storeItem(sid);
      expect(Item, `session ${sid} was acknowledged but is not stored`).toBeDefined();
      expect(Item?.revoked).toBe(false);
      if (Item?.refreshHash === hashRefreshToken(token)) current.push([sid, token]);
      else {
        expect(Item?.previousRefreshHash).toBe(hashRefreshToken(token));
        superseded.push([sid, token]);
      }
    }
    expect(superseded.length).toBeLessThanOrEqual(users.length); // at most one request in flight per client

    // A new process over the same store honours every acknowledged token.
    const second = await startServiceProcess();
    try {
      for (const [, token] of current) {
        expect((await post(second.url, '/auth/refresh', { refreshToken: token })).status).toBe(200);
      }
      for (const [sid, token] of superseded) {
        // Its rotation was written but never answered: within the grace period the retry gets the pair that
        // rotation stored (the client never saw it), not a reuse revocation.
        const retried = await post(second.url, '/auth/refresh', { refreshToken: token });
        expect(retried.status).toBe(200);
        expect(hashRefreshToken(retried.json.refreshToken)).toBe((await storeItem(sid)).Item?.refreshHash);
      }
    } finally {
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
    }
    // Two service processes start and hash passwords at production strength: room for a busy machine.
  }, 120_000);
});

function storeItem(sid: string) {
  return store.item(`session#${sid}`);
}
