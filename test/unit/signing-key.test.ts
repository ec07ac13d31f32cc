import { GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseKeyRing } from '../../lib/tokens/keyring.ts';
import {
  initialKeyRing,
  kidCreatedAt,
  readStoredKeyRing,
  rotateKeyRing,
  type StoredKeyRing,
} from '../../scripts/key-ring-rotation.ts';
import { initSigningKey, rotateSigningKey, type SigningKeyOptions } from '../../scripts/signing-key.ts';

const NAME = '/auth-service/jwt-signing-keys';
const T0 = new Date('2026-11-20T10:00:00Z');
const DAY = 86_400_000;

/** SSM mocked at the SDK boundary: an in-memory parameter with a version, as PutParameter/GetParameter see it. */
function fakeSsm() {
  const ssm = new SSMClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const mock = mockClient(ssm);
  const state: { value?: string; version: number } = { version: 0 };
  mock.on(GetParameterCommand).callsFake(() => {
    if (state.value === undefined) throw new ParameterNotFound({ message: 'not found', $metadata: {} });
    return { Parameter: { Name: NAME, Type: 'SecureString', Value: state.value, Version: state.version } };
  });
  mock.on(PutParameterCommand).callsFake((input) => {
    if (state.value !== undefined && !input.Overwrite) throw new Error('ParameterAlreadyExists');
    state.value = input.Value;
    state.version += 1;
    return { Version: state.version };
  });
  return { ssm, mock, state, ring: () => JSON.parse(state.value as string) as StoredKeyRing };
}

let fake: ReturnType<typeof fakeSsm>;
let printed: string[];
const options = (overrides: Partial<SigningKeyOptions> = {}): SigningKeyOptions => ({
  name: NAME,
  minIntervalSeconds: 86_400,
  force: false,
  print: (line) => printed.push(line),
  ...overrides,
});

beforeEach(() => {
  fake = fakeSsm();
  printed = [];
});
afterEach(() => fake.mock.restore());

describe('secret:init', () => {
  it('creates a SecureString ring of a current and a staged key, 64 random bytes each, that the functions accept', async () => {
    expect(await initSigningKey(fake.ssm, options({ now: T0 }))).toBe(true);
    const put = fake.mock.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Name: NAME, Type: 'SecureString', Overwrite: false });
    const ring = fake.ring();
    const kids = Object.keys(ring.keys);
    expect(kids).toHaveLength(2);
    expect(ring.current).toBe(kids[0]);
    for (const key of Object.values(ring.keys)) expect(Buffer.from(key, 'base64url')).toHaveLength(64);
    expect(new Set(Object.values(ring.keys)).size).toBe(2);
    expect(parseKeyRing(fake.state.value as string).currentKid).toBe(ring.current);
  });

  it('leaves an existing parameter untouched', async () => {
    fake.state.value = JSON.stringify(initialKeyRing(T0));
    fake.state.version = 1;
    expect(await initSigningKey(fake.ssm, options())).toBe(false);
    expect(fake.mock.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('passes a customer-managed KMS key through', async () => {
    await initSigningKey(fake.ssm, options({ kmsKeyId: 'alias/auth-keys' }));
    expect(fake.mock.commandCalls(PutParameterCommand)[0]?.args[0].input.KeyId).toBe('alias/auth-keys');
  });
});

describe('secret:rotate', () => {
  it('promotes the staged key, keeps the previous one for verification and stages a new one', async () => {
    await initSigningKey(fake.ssm, options({ now: T0 }));
    const before = fake.ring();
    const [first, staged] = Object.keys(before.keys) as [string, string];
    const current = await rotateSigningKey(fake.ssm, options({ now: new Date(T0.getTime() + DAY) }));
    const after = fake.ring();
    expect(current).toBe(staged);
    expect(after.current).toBe(staged);
    const kids = Object.keys(after.keys);
    expect(kids.slice(0, 2)).toEqual([first, staged]);
    expect(after.keys[first]).toBe(before.keys[first]);
    expect(after.keys[staged]).toBe(before.keys[staged]);
    expect(kids).toHaveLength(3);
    expect(fake.mock.commandCalls(PutParameterCommand)[1]?.args[0].input).toMatchObject({
      Type: 'SecureString',
      Overwrite: true,
    });
  });

  it('drops the keys older than the previous one', async () => {
    await initSigningKey(fake.ssm, options({ now: T0 }));
    const [first] = Object.keys(fake.ring().keys) as [string];
    await rotateSigningKey(fake.ssm, options({ now: new Date(T0.getTime() + DAY) }));
    const second = fake.ring().current;
    await rotateSigningKey(fake.ssm, options({ now: new Date(T0.getTime() + 2 * DAY) }));
    const ring = fake.ring();
    expect(Object.keys(ring.keys)).not.toContain(first);
    expect(Object.keys(ring.keys)[0]).toBe(second);
    expect(Object.keys(ring.keys)).toHaveLength(3);
  });

  it('refuses a rotation that would drop a key within a refresh-token lifetime of the last rotation, unless forced', async () => {
    await initSigningKey(fake.ssm, options({ now: T0 }));
    // The first rotation drops nothing, so it may come at once.
    await rotateSigningKey(fake.ssm, options({ now: new Date(T0.getTime() + 60_000) }));
    const soon = new Date(T0.getTime() + DAY / 2);
    await expect(rotateSigningKey(fake.ssm, options({ now: soon }))).rejects.toThrow(/--force/);
    expect(fake.mock.commandCalls(PutParameterCommand)).toHaveLength(2);
    await rotateSigningKey(fake.ssm, options({ now: soon, force: true }));
    expect(fake.mock.commandCalls(PutParameterCommand)).toHaveLength(3);
  });

  it('stages a key without changing the signing key when the value is a single key', async () => {
    const single = 'a-single-signing-key-of-at-least-32-characters';
    fake.state.value = single;
    fake.state.version = 1;
    const current = await rotateSigningKey(fake.ssm, options({ now: T0 }));
    expect(current).toBe('default');
    const ring = fake.ring();
    expect(ring.current).toBe('default');
    expect(ring.keys.default).toBe(single);
    expect(Object.keys(ring.keys)).toHaveLength(2);
  });

  it('fails clearly when there is no ring yet', async () => {
    await expect(rotateSigningKey(fake.ssm, options())).rejects.toThrow(/secret:init/);
  });

  it('never prints key material', async () => {
    await initSigningKey(fake.ssm, options({ now: T0 }));
    await rotateSigningKey(fake.ssm, options({ now: new Date(T0.getTime() + DAY) }));
    await initSigningKey(fake.ssm, options());
    expect(printed.length).toBeGreaterThanOrEqual(3);
    const output = printed.join('\n');
    for (const key of Object.values(fake.ring().keys)) expect(output).not.toContain(key);
  });
});

describe('the ring logic', () => {
  it('names keys by their creation time', () => {
    const ring = initialKeyRing(T0);
    expect(kidCreatedAt(ring.current)?.toISOString()).toBe(T0.toISOString());
    expect(kidCreatedAt('default')).toBeUndefined();
  });

  it('refuses a stored value the functions would refuse', () => {
    expect(() => readStoredKeyRing('too-short')).toThrow(/at least 32/);
    expect(() => readStoredKeyRing('{"current":"a","keys":{}}')).toThrow(/no key/);
  });

  it('stages without dropping anything when the ring has no staged key', () => {
    const key = 'k'.repeat(40);
    const rotation = rotateKeyRing({ current: 'b', keys: { a: key, b: key } }, T0, () => 'n'.repeat(40));
    expect(rotation.stagedOnly).toBe(true);
    expect(rotation.ring.current).toBe('b');
    expect(Object.keys(rotation.ring.keys)).toEqual(['a', 'b', rotation.next]);
  });
});

describe.each(['ES256', 'RS256'] as const)('secret:init and secret:rotate with --alg %s', (algorithm) => {
  it('creates a ring of two PKCS#8 private keys of that algorithm that the functions accept', async () => {
    await initSigningKey(fake.ssm, options({ now: T0, algorithm }));
    const ring = fake.ring();
    for (const key of Object.values(ring.keys)) expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const parsed = parseKeyRing(fake.state.value as string, algorithm);
    expect(parsed.algorithm).toBe(algorithm);
    expect(() => parseKeyRing(fake.state.value as string, 'HS256')).toThrow(/SIGNING_ALG is HS256/);
    expect(printed.join('\n')).toContain(algorithm);
  });

  it('rotates with new keys of the ring own algorithm, without being told it', async () => {
    await initSigningKey(fake.ssm, options({ now: T0, algorithm }));
    await rotateSigningKey(fake.ssm, options({ now: new Date(T0.getTime() + 2 * DAY) }));
    const ring = fake.ring();
    expect(Object.keys(ring.keys)).toHaveLength(3);
    expect(parseKeyRing(fake.state.value as string, algorithm).keys.size).toBe(3);
  });

  it('refuses to rotate a ring into another algorithm, and changes nothing', async () => {
    await initSigningKey(fake.ssm, options({ now: T0 }));
    await expect(
      rotateSigningKey(fake.ssm, options({ now: new Date(T0.getTime() + 2 * DAY), algorithm })),
    ).rejects.toThrow(/holds HS256 keys/);
    expect(fake.mock.commandCalls(PutParameterCommand)).toHaveLength(1);
  });

  it('never prints key material', async () => {
    await initSigningKey(fake.ssm, options({ now: T0, algorithm }));
    await rotateSigningKey(fake.ssm, options({ now: new Date(T0.getTime() + 2 * DAY) }));
    const output = printed.join('\n');
    expect(output).not.toContain('PRIVATE KEY');
    for (const key of Object.values(fake.ring().keys)) expect(output).not.toContain(key.slice(40, 100));
  });
});
