import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAuthClient } from '@lambda-token-auth/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NpmStart, npmStart } from '../support/npm-start.ts';

/**
 * A key rotation rehearsed against `npm start`, as the README tells it: `npm run secret:rotate -- --local`
 * rotates the ring in the local server's SSM stand-in, while a client keeps calling `/me`; no call fails,
 * and the client's tokens move to the new key within the key cache's age.
 */
const run = promisify(execFile);
let dataDir: string;
let server: NpmStart;
/** The kid the rotation promoted. */
let promoted: string | undefined;
const serverEnv = () => ({
  LOCAL_DATA_DIR: dataDir,
  // Short, so that the rehearsal takes seconds: the functions re-read the ring every second, and the client
  // refreshes (and so gets tokens signed with the current key) every few.
  KEY_CACHE_MAX_AGE: '1',
  ACCESS_TOKEN_TTL: '3',
});

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'auth-rotation-'));
  server = await npmStart([], serverEnv());
}, 90_000);
afterAll(async () => {
  await server?.stop().catch(() => server.kill());
  rmSync(dataDir, { recursive: true, force: true });
});

/** `npm run <script> -- ...args` against the running server's stand-in, found through its data directory. */
async function npmRun(script: string, ...args: string[]): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOCAL_DATA_DIR: dataDir };
  delete env.AWS_ENDPOINT_URL_SSM;
  const { stdout } = await run('npm', ['run', '--silent', script, '--', '--local', ...args], { env });
  return stdout;
}

const kidOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8')).kid as string;

describe('secret:rotate -- --local against npm start', () => {
  it('rotates the ring while a client keeps calling /me: every call answers 200, and new tokens carry the new key', async () => {
    const auth = createAuthClient({ baseUrl: server.url });
    await auth.register('rotating-user', 'correct horse battery staple');
    await auth.login('rotating-user', 'correct horse battery staple');
    const firstKid = kidOf((await auth.tokens())?.accessToken as string);
    const idle = createAuthClient({ baseUrl: server.url });
    await idle.login('rotating-user', 'correct horse battery staple');

    const statuses: number[] = [];
    const kids = new Set<string>();
    let calling = true;
    const caller = (async () => {
      while (calling) {
        const response = await auth.fetch('/me');
        statuses.push(response.status);
        await response.body?.cancel();
        const tokens = await auth.tokens();
        if (tokens) kids.add(kidOf(tokens.accessToken));
      }
    })();

    // The generated key is a ring of one: the first rotation stages a key, the second promotes it.
    expect(await npmRun('secret:rotate')).toMatch(/had no staged key: staged (\S+);/);
    promoted = /rotated \S+: (\S+) now signs/.exec(await npmRun('secret:rotate'))?.[1];
    expect(promoted).toBeDefined();

    // A deadline, not a wait: the client's tokens move to the promoted key once a refresh happens after the
    // functions re-read the ring.
    const deadline = Date.now() + 30_000;
    while (!kids.has(promoted as string) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    calling = false;
    await caller;

    expect(kids.has(promoted as string)).toBe(true);
    expect(kids.has(firstKid)).toBe(true);
    expect(statuses.length).toBeGreaterThan(5);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    // A session that began under the old key and sat idle meanwhile goes on: its refresh token, signed by the
    // key that is now the previous one, still verifies, and its new pair is signed by the promoted key.
    const idleAnswer = await idle.fetch('/me');
    expect(idleAnswer.status).toBe(200);
    expect(kidOf((await idle.tokens())?.accessToken as string)).toBe(promoted);
  }, 90_000);

  it('keeps the rotated ring across a restart: the server signs with the promoted key', async () => {
    expect(promoted).toBeDefined();
    await server.stop();
    server = await npmStart([], serverEnv());
    expect(server.output()).toMatch(/signing key: the ring put by npm run secret:init/);
    const auth = createAuthClient({ baseUrl: server.url });
    await auth.login('rotating-user', 'correct horse battery staple');
    expect(kidOf((await auth.tokens())?.accessToken as string)).toBe(promoted);
  }, 90_000);

  it('creates a ring of another algorithm under another name, once (init is idempotent)', async () => {
    const name = '/auth-service/rehearsal-es256';
    expect(await npmRun('secret:init', '--alg', 'ES256', '--name', name)).toMatch(
      new RegExp(`^created ${name} \\(ES256\\): current kid \\S+, staged kid \\S+`),
    );
    expect(await npmRun('secret:init', '--alg', 'ES256', '--name', name)).toMatch(
      new RegExp(`^${name} already exists \\(ES256, current kid \\S+\\); nothing changed`),
    );
  }, 60_000);

  it('says how to reach a server when none is running on the data directory', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'auth-none-')),
    };
    delete env.AWS_ENDPOINT_URL_SSM;
    const failed = await run('npm', ['run', '--silent', 'secret:rotate', '--', '--local'], { env }).catch(
      (error) => error,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/no local server found: start npm start .* or set AWS_ENDPOINT_URL_SSM/);
  }, 60_000);
});
