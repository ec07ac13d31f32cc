import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthClient,
  type DeviceTokenStorage,
  fileDeviceStorage,
  localStorageDeviceStorage,
  memoryDeviceStorage,
} from '@lambda-token-auth/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCodeAt } from '../../lib/mfa/totp.ts';
import { DEFAULT_PASSWORD, type HttpTestService, startHttpTestService } from '../support/service.ts';
import { enrolTotpThrough } from '../support/totp.ts';

// API.md "Known devices": the client keeps the device token every login answers, across sign-outs, and sends it
// with its next login, which the service then judges by this device's own failures only.
let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService({ LOGIN_MAX_FAILURES: '3' });
});
afterAll(() => service.close());

let users = 0;
const register = async () => {
  const username = `device-sdk-${++users}`;
  expect((await service.post('/auth/register', { username, password: DEFAULT_PASSWORD })).status).toBe(201);
  return username;
};

/** A client over `deviceStorage`, recording the body of every login (and second step) it sends. */
function newClient(deviceStorage: DeviceTokenStorage) {
  const logins: any[] = [];
  const secondSteps: any[] = [];
  const client = new AuthClient({
    baseUrl: service.url,
    deviceStorage,
    fetch: async (input, init) => {
      const path = new URL(String(input)).pathname;
      if (path === '/auth/login') logins.push(JSON.parse(String(init?.body)));
      if (path === '/auth/login/mfa') secondSteps.push(JSON.parse(String(init?.body)));
      return fetch(input, init);
    },
  });
  return { client, logins, secondSteps };
}

describe('the client’s device token', () => {
  it('is kept from the first login, across logout, and sent with the next login, which answers it again', async () => {
    const username = await register();
    const storage = memoryDeviceStorage();
    const { client, logins } = newClient(storage);
    await client.login(username, DEFAULT_PASSWORD);
    const token = await storage.get();
    expect(token).toMatch(/^[0-9a-f-]{36}\./);
    expect(logins[0].deviceToken).toBeUndefined();
    await client.logout();
    expect(await storage.get()).toBe(token);
    await client.login(username, DEFAULT_PASSWORD);
    expect(logins[1].deviceToken).toBe(token);
    expect(await storage.get()).toBe(token);
  });

  it('lets this device in while strangers’ failures hold the name', async () => {
    const username = await register();
    const storage = memoryDeviceStorage();
    const { client } = newClient(storage);
    await client.login(username, DEFAULT_PASSWORD);
    await client.logout();
    for (let i = 0; i < 3; i += 1)
      await service.request('POST', '/auth/login', {
        body: { username, password: `guess ${i}` },
        sourceIp: `198.51.100.${i + 1}`,
      });
    // Without the token, the name refuses even the right password...
    expect((await service.login(username)).status).toBe(429);
    // ...while this device's login is judged by its own (clean) count.
    await client.login(username, DEFAULT_PASSWORD);
    expect((await client.fetch('/me')).status).toBe(200);
  });

  it('persists in a file across clients (Node), readable by its owner only', async () => {
    const username = await register();
    const path = join(mkdtempSync(join(tmpdir(), 'device-token-')), 'device');
    const first = newClient(fileDeviceStorage(path));
    await first.client.login(username, DEFAULT_PASSWORD);
    const token = readFileSync(path, 'utf8');
    expect(token).toMatch(/^[0-9a-f-]{36}\./);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const second = newClient(fileDeviceStorage(path));
    await second.client.login(username, DEFAULT_PASSWORD);
    expect(second.logins[0].deviceToken).toBe(token);
    expect(await fileDeviceStorage(join(path, 'missing')).get()).toBeNull();
  });

  it('persists in localStorage under its key in a browser', async () => {
    const username = await register();
    const entries = new Map<string, string>();
    const webStorage = {
      getItem: (key: string) => entries.get(key) ?? null,
      setItem: (key: string, value: string) => void entries.set(key, value),
      removeItem: (key: string) => void entries.delete(key),
    };
    const { client } = newClient(localStorageDeviceStorage('my-device', webStorage));
    await client.login(username, DEFAULT_PASSWORD);
    await client.logout();
    expect(entries.get('my-device')).toMatch(/^[0-9a-f-]{36}\./);
    const again = newClient(localStorageDeviceStorage('my-device', webStorage));
    await again.client.login(username, DEFAULT_PASSWORD);
    expect(again.logins[0].deviceToken).toBe(entries.get('my-device'));
  });

  it('is sent with both steps of a login with a second factor, and kept from its answer', async () => {
    const username = await register();
    const storage = memoryDeviceStorage();
    const { client, logins, secondSteps } = newClient(storage);
    await client.login(username, DEFAULT_PASSWORD);
    const token = await storage.get();
    const { secret, step } = await enrolTotpThrough(client, DEFAULT_PASSWORD);
    await client.logout();
    expect(await client.login(username, DEFAULT_PASSWORD)).toMatchObject({ status: 'mfa_required' });
    expect(logins.at(-1).deviceToken).toBe(token);
    await client.completeMfa({ code: totpCodeAt(secret, step + 1) });
    expect(secondSteps.at(-1).deviceToken).toBe(token);
    expect(await storage.get()).toBe(token);
    expect((await client.fetch('/me')).status).toBe(200);
  });

  it('is not kept by the client with the cookie transport (the browser keeps its HttpOnly cookie)', () => {
    expect(
      () =>
        new AuthClient({ baseUrl: service.url, transport: 'cookie', deviceStorage: memoryDeviceStorage() }),
    ).toThrow(TypeError);
  });
});
