import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_PASSWORD,
  startTestService,
  TEST_SIGNING_KEY,
  type TestService,
} from '../support/service.ts';

/**
 * Runs every flow that logs (including failures, reuse detection and a parameter-store fault) and asserts that
 * no password, token or signing key appears in anything the service wrote to stdout or stderr. The logger is
 * told to log events and to log at DEBUG, so that a regression in what reaches it shows up here.
 */
let service: TestService;
let captured = '';
const restore: (() => void)[] = [];

beforeAll(async () => {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      // Kept, not printed: a passing run stays quiet (DEBUG lines are many).
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = write;
    });
  }
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      captured += `${args.map(String).join(' ')}\n`;
    };
    restore.push(() => {
      console[level] = original;
    });
  }
  service = await startTestService({
    POWERTOOLS_LOGGER_LOG_EVENT: 'true',
    POWERTOOLS_LOG_LEVEL: 'DEBUG',
    // The suite keeps EMF lines off (vitest.config.ts); they are output too, so they are checked here.
    POWERTOOLS_METRICS_DISABLED: 'false',
    // Every read goes to the parameter store, so that its fault below is seen.
    KEY_CACHE_MAX_AGE: '0',
  });
});

afterAll(async () => {
  for (const undo of restore) undo();
  await service?.close();
});

describe('logs', () => {
  it('never contain a password, a token or the signing key, whatever the flow', async () => {
    const secrets: string[] = [TEST_SIGNING_KEY, DEFAULT_PASSWORD];
    const wrongPassword = 'a wrong password that must not be logged';
    secrets.push(wrongPassword);

    const tokens = await service.signUp('log-watcher');
    secrets.push(tokens.accessToken, tokens.refreshToken);
    expect((await service.login('log-watcher', wrongPassword)).status).toBe(401);
    expect((await service.login('nobody-here', wrongPassword)).status).toBe(401);
    expect((await service.me(tokens.accessToken)).status).toBe(200);
    expect((await service.me(`${tokens.accessToken}x`)).status).toBe(401);

    const rotated = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(rotated.status).toBe(200);
    secrets.push(rotated.json.accessToken, rotated.json.refreshToken);
    const twice = await service.post('/auth/refresh', { refreshToken: rotated.json.refreshToken });
    expect(twice.status).toBe(200);
    secrets.push(twice.json.accessToken, twice.json.refreshToken);
    // A replay of a token two rotations old (not a racing retry): reuse detected, the session revoked.
    const replay = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(replay.json.error).toBe('refresh_token_reused');
    expect((await service.me(rotated.json.accessToken)).status).toBe(401);

    const again = (await service.login('log-watcher')).json;
    secrets.push(again.accessToken, again.refreshToken);
    expect(
      (
        await service.post(
          '/auth/logout',
          { refreshToken: again.refreshToken },
          { authorization: `Bearer ${again.accessToken}` },
        )
      ).status,
    ).toBe(204);
    const third = (await service.login('log-watcher')).json;
    secrets.push(third.accessToken, third.refreshToken);
    expect(
      (await service.post('/auth/logout-all', undefined, { authorization: `Bearer ${third.accessToken}` }))
        .status,
    ).toBe(204);

    // A parameter-store fault: logged as an error with its cause, answered 503.
    service.server.ssm.failWith(500);
    const during = await service.login('log-watcher');
    service.server.ssm.failWith(undefined);
    expect(during.status).toBe(503);

    // The capture works: the flows above did log, and counted metrics.
    expect(captured).toContain('authorizer refused');
    expect(captured).toContain('refresh token reuse detected');
    expect(captured).toContain('"Logins"');
    expect(captured).toContain('service_unavailable');

    for (const secret of secrets) {
      expect(captured.includes(secret), `a secret of ${secret.length} characters was logged`).toBe(false);
    }
    // Nor any token's signature on its own (a log line might carry a truncated token).
    for (const token of secrets.filter((s) => s.split('.').length === 3)) {
      expect(captured.includes(token.split('.')[2] as string)).toBe(false);
    }
  });
});
