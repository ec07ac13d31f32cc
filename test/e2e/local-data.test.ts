import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalDynamo } from '../../infra/local/dynamo.ts';
import { type NpmStart, npmStart, npmStartFailing } from '../support/npm-start.ts';
import { TEST_SECRET } from '../support/service.ts';

/**
 * `npm start` keeps its data under LOCAL_DATA_DIR (API.md, local settings): a restart keeps accounts, sessions
 * and the tokens already handed out; `--in-memory` keeps nothing. Each run is stopped the way a user or a
 * process manager stops it, `kill <pid of npm>`, which must stop the server under npm too.
 */
const started: NpmStart[] = [];
afterEach(() => {
  for (const run of started.splice(0)) run.kill();
});
const start = async (args: string[], env: Record<string, string>) => {
  const run = await npmStart(args, env);
  started.push(run);
  return run;
};

const credentials = { username: 'restart-user', password: 'correct horse battery staple' };
const post = (url: string, path: string, body: unknown) =>
  fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const me = (url: string, accessToken: string) =>
  fetch(`${url}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
type Pair = { accessToken: string; refreshToken: string };

/** `kill <npm's pid>`; then the server's port must be closed: the signal reached the server, not only npm. */
async function stopAndExpectGone(run: NpmStart): Promise<void> {
  await run.stop('SIGTERM');
  await expect(fetch(`${run.url}/me`)).rejects.toThrow();
  expect(run.output()).toContain('stopping');
}

describe('npm start with LOCAL_DATA_DIR', () => {
  it('keeps accounts, sessions and tokens across a restart: the old access token passes /me and the account logs in', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'auth-local-data-')), 'data');
    const first = await start([], { LOCAL_DATA_DIR: dataDir });
    expect(first.output()).toContain(`kept in ${dataDir}`);
    expect((await post(first.url, '/auth/register', credentials)).status).toBe(201);
    const login = await post(first.url, '/auth/login', credentials);
    expect(login.status).toBe(200);
    const pair = (await login.json()) as Pair;
    expect((await me(first.url, pair.accessToken)).status).toBe(200);

    // The generated key is readable by its owner only.
    const keyFile = readdirSync(dataDir).find((name) => name.startsWith('signing-key-')) as string;
    expect(statSync(join(dataDir, keyFile)).mode & 0o077).toBe(0);

    // A second server on the same directory refuses to start, clearly, and leaves the first one's data alone.
    const second = await npmStartFailing([], { LOCAL_DATA_DIR: dataDir });
    expect(second.code).not.toBe(0);
    expect(second.output).toMatch(/in use by another local server/);

    await stopAndExpectGone(first);

    const again = await start([], { LOCAL_DATA_DIR: dataDir });
    const afterRestart = await me(again.url, pair.accessToken);
    expect(afterRestart.status).toBe(200);
    expect(((await afterRestart.json()) as { username: string }).username).toBe(credentials.username);
    expect((await post(again.url, '/auth/login', credentials)).status).toBe(200);
    // The session lives on too: its refresh token rotates.
    expect((await post(again.url, '/auth/refresh', { refreshToken: pair.refreshToken })).status).toBe(200);
    await stopAndExpectGone(again);
  });

  it('writes nothing there when both the store and the key come from elsewhere (DYNAMODB_ENDPOINT, JWT_SECRET)', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'auth-local-data-')), 'data');
    const dynamo = await startLocalDynamo();
    try {
      const run = await start([], {
        LOCAL_DATA_DIR: dataDir,
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        JWT_SECRET: TEST_SECRET,
      });
      expect((await post(run.url, '/auth/register', credentials)).status).toBe(201);
      await stopAndExpectGone(run);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      await dynamo.close();
    }
  });

  it('--in-memory keeps nothing: no file is written, and after a restart the account and its tokens are gone', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'auth-local-data-')), 'data');
    const first = await start(['--in-memory'], { LOCAL_DATA_DIR: dataDir });
    expect(first.output()).toContain('in memory');
    expect((await post(first.url, '/auth/register', credentials)).status).toBe(201);
    const pair = (await (await post(first.url, '/auth/login', credentials)).json()) as Pair;
    await stopAndExpectGone(first);
    expect(existsSync(dataDir)).toBe(false);

    const again = await start(['--in-memory'], { LOCAL_DATA_DIR: dataDir });
    expect((await me(again.url, pair.accessToken)).status).toBe(401);
    expect((await post(again.url, '/auth/login', credentials)).status).toBe(401);
    await stopAndExpectGone(again);
  });
});
