import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkThrough } from '../../infra/local/walk-through.ts';

// The README's command, run as a user would: `npm start`, here on a free port.
let child: ChildProcess;
let url: string;
let output = '';

beforeAll(async () => {
  // In memory: this run must not write to (or lock) the checkout's own .local-data/.
  child = spawn('npm', ['start', '--', '--in-memory'], {
    env: { ...process.env, PORT: '0', JWT_SECRET: '' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  url = await new Promise<string>((resolve, reject) => {
    // A deadline, not a wait: on a busy machine npm and a cold node can take a while to come up.
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 60_000);
    const check = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
}, 90_000);

afterAll(() => {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone: the Ctrl-C test stopped it
  }
});

const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('npm start', () => {
  it('warns that the signing key is ephemeral and prints the README walk-through, line for line', () => {
    expect(output).toContain('JWT_SECRET is not set');
    const printed = walkThrough(url);
    for (const line of printed) expect(output).toContain(`  ${line}\n`);
    // The same variable names and commands as the README (where API is the default port's URL).
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const line of printed.slice(1)) expect(readme).toContain(`${line}\n`);
    expect(readme).toContain('API=http://127.0.0.1:3000\n');
  });

  it('serves register -> login -> me -> refresh -> logout over HTTP', async () => {
    const credentials = { username: 'e2e-user', password: 'correct horse battery staple' };
    expect((await post('/auth/register', credentials)).status).toBe(201);
    const login = await post('/auth/login', credentials);
    expect(login.status).toBe(200);
    const tokens = (await login.json()) as { accessToken: string; refreshToken: string };

    const me = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { username: string }).username).toBe('e2e-user');

    const refreshed = await post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as { accessToken: string; refreshToken: string };
    // That answer lost on the way back: the retry with the login's token gets the very same pair.
    const retried = await post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({
      accessToken: next.accessToken,
      refreshToken: next.refreshToken,
    });
    const stillMe = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${next.accessToken}` } });
    expect(stillMe.status).toBe(200);

    expect(
      (await post('/auth/logout', undefined, { authorization: `Bearer ${next.accessToken}` })).status,
    ).toBe(204);
    const after = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${next.accessToken}` } });
    expect(after.status).toBe(401);
    expect((await post('/auth/refresh', { refreshToken: next.refreshToken })).status).toBe(401);
  });

  it('prints its store as DYNAMODB_ENDPOINT, which `npm run admin` reaches', async () => {
    const endpoint = /^DYNAMODB_ENDPOINT=(http:\/\/127\.0\.0\.1:\d+)$/m.exec(output)?.[1];
    expect(endpoint).toBeDefined();
    const credentials = { username: 'e2e-admin-user', password: 'correct horse battery staple' };
    expect((await post('/auth/register', credentials)).status).toBe(201);
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'admin', '--', 'users'], {
      env: { ...process.env, DYNAMODB_ENDPOINT: endpoint },
      timeout: 60_000,
    });
    expect(stdout).toContain('e2e-admin-user\t');
  });

  it('stops cleanly on Ctrl-C: the server says so, closes its port and leaves no process behind', async () => {
    // A terminal's Ctrl-C signals the whole foreground process group: npm and the server under it.
    const outputClosed = once(child.stdout as NodeJS.ReadableStream, 'close');
    process.kill(-(child.pid as number), 'SIGINT');
    await outputClosed;
    expect(output).toContain('stopping');
    await expect(fetch(`${url}/me`)).rejects.toThrow();
  });
});
