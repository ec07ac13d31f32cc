import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../lib/errors.ts';
import { createSsmKeyRingSource } from '../../lib/tokens/key-source.ts';
import { createSsmParameterReader, SsmReadError } from '../../lib/tokens/ssm-parameter.ts';

const KEY = 'a-test-signing-key-of-at-least-32-characters';

describe('the key-ring source', () => {
  it('shares one read among concurrent callers, caches for the max age, and reads again after it', async () => {
    let reads = 0;
    let value = KEY;
    // A clock at a real epoch (not 0), so that the age is judged as a difference of two instants.
    const start = Date.parse('2026-12-02T00:00:00Z');
    let now = start;
    const source = createSsmKeyRingSource(
      async () => {
        reads += 1;
        return value;
      },
      '/p',
      300,
      'HS256',
      () => now,
    );
    const rings = await Promise.all([source.getKeyRing(), source.getKeyRing(), source.getKeyRing()]);
    expect(reads).toBe(1);
    expect(new Set(rings).size).toBe(1);
    now = start + 299_999;
    await source.getKeyRing();
    expect(reads).toBe(1);
    now = start + 300_000;
    const again = await source.getKeyRing();
    expect(reads).toBe(2);
    expect(again).toBe(rings[0]); // the same value is not parsed again
    // A rotated value is parsed: the ring read after the next max age is the new one.
    value = JSON.stringify({ current: 'k2', keys: { k2: `${KEY}-rotated` } });
    now = start + 600_000;
    const rotated = await source.getKeyRing();
    expect(reads).toBe(3);
    expect(rotated.currentKid).toBe('k2');
  });

  it('answers a failed read with a 503 and never a stale ring, and recovers on the next call', async () => {
    let fail = false;
    let now = 0;
    const source = createSsmKeyRingSource(
      async () => {
        if (fail) throw new SsmReadError('down', true);
        return KEY;
      },
      '/p',
      1,
      'HS256',
      () => now,
    );
    await source.getKeyRing();
    fail = true;
    now = 1000;
    const error = await source.getKeyRing().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
    fail = false;
    await expect(source.getKeyRing()).resolves.toBeDefined();
  });
});

describe('the SSM parameter reader', () => {
  const requests: { headers: IncomingMessage['headers']; body: string }[] = [];
  let answers: { status: number; body: unknown }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      const answer = answers.shift() ?? { status: 500, body: { __type: 'InternalServerError' } };
      res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(answer.body));
    });
  });
  let env: Record<string, string>;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    env = {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'session-token',
      AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    };
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends one SigV4-signed GetParameter with decryption and returns the value', async () => {
    requests.length = 0;
    answers = [{ status: 200, body: { Parameter: { Value: 'the-value' } } }];
    expect(await createSsmParameterReader(env)('/auth/keys')).toBe('the-value');
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(JSON.parse(request?.body ?? '')).toEqual({ Name: '/auth/keys', WithDecryption: true });
    expect(request?.headers['x-amz-target']).toBe('AmazonSSM.GetParameter');
    expect(request?.headers['x-amz-security-token']).toBe('session-token');
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ssm\/aws4_request, SignedHeaders=[^,]*host[^,]*x-amz-target[^,]*, Signature=[0-9a-f]{64}$/,
    );
  });

  it('retries a 5xx or throttling a bounded number of times, and never a 4xx', async () => {
    requests.length = 0;
    answers = [
      { status: 500, body: { __type: 'InternalServerError' } },
      { status: 400, body: { __type: 'ThrottlingException' } },
      { status: 200, body: { Parameter: { Value: 'v' } } },
    ];
    expect(await createSsmParameterReader(env)('/p')).toBe('v');
    expect(requests).toHaveLength(3);

    requests.length = 0;
    answers = [];
    await expect(createSsmParameterReader(env, { maxAttempts: 3 })('/p')).rejects.toThrow(/500/);
    expect(requests).toHaveLength(3);

    requests.length = 0;
    answers = [{ status: 400, body: { __type: 'ParameterNotFound' } }];
    await expect(createSsmParameterReader(env)('/p')).rejects.toThrow(/ParameterNotFound/);
    expect(requests).toHaveLength(1);
  });

  it('fails clearly without credentials in the environment', async () => {
    await expect(createSsmParameterReader({ AWS_REGION: 'eu-west-1' })('/p')).rejects.toThrow(/credentials/);
  });
});
