import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DEFAULT_LOCAL_DATA_DIR, readSsmEndpoint } from '../infra/local/data-dir.ts';
import { defaults } from '../lib/config.ts';
import { isSigningAlgorithm, type SigningAlgorithm, signingAlgorithms } from '../lib/tokens/keyring.ts';
import {
  initialKeyRing,
  readStoredKeyRing,
  rotateKeyRing,
  secondsSinceLastRotation,
} from './key-ring-rotation.ts';

/**
 * `npm run secret:init` / `npm run secret:rotate`: manage the signing-key ring in its SSM SecureString
 * (CloudFormation cannot create SecureStrings, so the stack only references it by name). Prints key ids, never
 * key material. Uses the usual AWS credential chain and region (AWS_PROFILE, AWS_REGION, ...).
 */
export interface SigningKeyOptions {
  name: string;
  /**
   * The keys' algorithm: what `init` creates (HS256 when absent); for `rotate`, a check that the ring is of it
   * (a ring is of one algorithm: changing it is a new ring, and everyone logs in again).
   */
  algorithm?: SigningAlgorithm | undefined;
  /** A customer-managed KMS key for the SecureString (init only); SSM's AWS-managed key when absent. */
  kmsKeyId?: string | undefined;
  /** Refuse to rotate again sooner than this many seconds after the last rotation (unless `force`). */
  minIntervalSeconds: number;
  force: boolean;
  now?: Date;
  print?: (line: string) => void;
}

async function readParameter(
  ssm: SSMClient,
  name: string,
): Promise<{ value: string; version: number } | undefined> {
  try {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    if (typeof Parameter?.Value !== 'string') throw new Error(`SSM parameter ${name} has no value`);
    return { value: Parameter.Value, version: Parameter.Version ?? 0 };
  } catch (error) {
    if (error instanceof ParameterNotFound || (error as Error)?.name === 'ParameterNotFound')
      return undefined;
    throw error;
  }
}

/** Creates the ring (a current and a staged key) unless the parameter exists; returns whether it created it. */
export async function initSigningKey(ssm: SSMClient, options: SigningKeyOptions): Promise<boolean> {
  const print = options.print ?? console.log;
  const existing = await readParameter(ssm, options.name);
  if (existing) {
    const ring = readStoredKeyRing(existing.value);
    print(
      `${options.name} already exists (${ring.algorithm}, current kid ${ring.current}); nothing changed.`,
    );
    return false;
  }
  const ring = initialKeyRing(options.now ?? new Date(), options.algorithm ?? 'HS256');
  await ssm.send(
    new PutParameterCommand({
      Name: options.name,
      Type: 'SecureString',
      Value: JSON.stringify(ring),
      // Never replace a ring someone else just created: their keys may already sign tokens.
      Overwrite: false,
      ...(options.kmsKeyId && { KeyId: options.kmsKeyId }),
      Description: 'Signing keys of the auth service (JSON key ring); rotate with npm run secret:rotate',
    }),
  );
  const [current, next] = Object.keys(ring.keys);
  print(
    `created ${options.name} (${options.algorithm ?? 'HS256'}): current kid ${current}, staged kid ${next}`,
  );
  return true;
}

/** Rotates the ring in place (see key-ring-rotation.ts); returns the new current kid. */
export async function rotateSigningKey(ssm: SSMClient, options: SigningKeyOptions): Promise<string> {
  const print = options.print ?? console.log;
  const now = options.now ?? new Date();
  const existing = await readParameter(ssm, options.name);
  if (!existing) throw new Error(`${options.name} does not exist: run npm run secret:init first`);
  const stored = readStoredKeyRing(existing.value);
  if (options.algorithm && options.algorithm !== stored.algorithm) {
    throw new Error(
      `${options.name} holds ${stored.algorithm} keys, not ${options.algorithm}: a ring has one algorithm. To change it, create a new ring (secret:init --alg ${options.algorithm} --name <new name>), point JWT_SECRET_PARAM and SIGNING_ALG at it together, and everyone logs in again.`,
    );
  }
  const rotation = rotateKeyRing({ current: stored.current, keys: stored.keys }, now);
  const since = secondsSinceLastRotation(stored, now);
  // Only a rotation that drops a key can log anyone out; the first one after init drops nothing.
  if (
    !options.force &&
    rotation.dropped.length > 0 &&
    since !== undefined &&
    since < options.minIntervalSeconds
  ) {
    throw new Error(
      `the last rotation was ${since}s ago; rotating again before ${options.minIntervalSeconds}s would drop a key that may still have signed live refresh tokens (their users would have to log in again). Wait, or pass --force.`,
    );
  }
  await ssm.send(
    new PutParameterCommand({
      Name: options.name,
      Type: 'SecureString',
      Value: JSON.stringify(rotation.ring),
      Overwrite: true,
    }),
  );
  // SSM has no conditional put; a version that jumped by more than one means someone wrote in between.
  const written = await readParameter(ssm, options.name);
  if (written && written.version !== existing.version + 1) {
    print(
      `warning: ${options.name} changed while rotating (version ${existing.version} -> ${written.version}); check it.`,
    );
  }
  if (rotation.stagedOnly) {
    print(
      `${options.name} had no staged key: staged ${rotation.next}; ${rotation.current} still signs. Run secret:rotate again after KEY_CACHE_MAX_AGE plus the JWKS cache time (10 minutes; 2 hours if API Gateway JWT authorizers verify your tokens) to promote it, so that every function and verifier knows it first.`,
    );
  } else {
    print(
      `rotated ${options.name}: ${rotation.current} now signs, the previous key still verifies, staged ${rotation.next}${rotation.dropped.length > 0 ? `, dropped ${rotation.dropped.join(', ')}` : ''}. Warm functions pick it up within KEY_CACHE_MAX_AGE.`,
    );
  }
  return rotation.current;
}

/**
 * A key stops signing at a rotation, but warm functions keep signing with it for up to `KEY_CACHE_MAX_AGE`
 * after that; its last token then lives a refresh token's lifetime. Only after both may the key leave the ring
 * (and the JWKS).
 */
const DEFAULT_MIN_INTERVAL = String(Number(defaults.REFRESH_TOKEN_TTL) + Number(defaults.KEY_CACHE_MAX_AGE));

const USAGE = `usage: npm run secret:init|secret:rotate -- [--local] [--alg HS256|ES256|RS256] [--name /auth-service/jwt-signing-keys] [--kms-key-id <key>] [--min-interval-seconds ${DEFAULT_MIN_INTERVAL}] [--force]`;

const HELP = `${USAGE}

  init     create the key ring in the SSM SecureString, unless it exists (then nothing changes)
  rotate   promote the staged key to current, keep the old current as previous, stage a new key

  --name                  the parameter (default $JWT_SECRET_PARAM or ${defaults.JWT_SECRET_PARAM})
  --alg                   the keys' algorithm (default $SIGNING_ALG or HS256); rotate checks the ring's
  --kms-key-id            init: a customer-managed KMS key for the SecureString (default: SSM's own)
  --min-interval-seconds  rotate: refuse to drop a key sooner than this after the last rotation
  --force                 rotate: even so
  --local                 against the SSM stand-in of a running \`npm start\` instead of AWS: the one named by
                          AWS_ENDPOINT_URL_SSM (npm start prints it), else the one of the server running on
                          LOCAL_DATA_DIR (default ${DEFAULT_LOCAL_DATA_DIR}/); a rehearsal of init or rotation
  --help                  this text

Uses the AWS credential chain and region (AWS_PROFILE, AWS_REGION, ...), or with --local none. Prints key ids,
never keys.`;

function parseCommandLine() {
  return parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string', default: process.env.JWT_SECRET_PARAM ?? defaults.JWT_SECRET_PARAM },
      'kms-key-id': { type: 'string' },
      alg: { type: 'string', default: process.env.SIGNING_ALG },
      'min-interval-seconds': { type: 'string', default: DEFAULT_MIN_INTERVAL },
      force: { type: 'boolean', default: false },
      local: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/**
 * An SSM client for the stand-in of a running `npm start`: at AWS_ENDPOINT_URL_SSM, or at the endpoint the
 * server recorded in its data directory. The stand-in checks no signature: the credentials are placeholders.
 */
export function localSsmClient(
  env: NodeJS.ProcessEnv = process.env,
  dataDir = resolve(env.LOCAL_DATA_DIR || DEFAULT_LOCAL_DATA_DIR),
): SSMClient {
  const endpoint = env.AWS_ENDPOINT_URL_SSM || readSsmEndpoint(dataDir);
  if (!endpoint) {
    throw new Error(
      `no local server found: start npm start (it records its SSM endpoint in ${dataDir}), or set AWS_ENDPOINT_URL_SSM to the endpoint it prints`,
    );
  }
  return new SSMClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine();
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const { positionals, values } = parsed;
  if (values.help) {
    console.log(HELP);
    return;
  }
  const minIntervalSeconds = Number(values['min-interval-seconds']);
  if (!Number.isSafeInteger(minIntervalSeconds) || minIntervalSeconds < 0) throw new Error(USAGE);
  if (values.alg !== undefined && !isSigningAlgorithm(values.alg)) {
    throw new Error(`--alg must be one of ${signingAlgorithms.join(', ')}\n${USAGE}`);
  }
  const options: SigningKeyOptions = {
    name: values.name,
    algorithm: values.alg,
    kmsKeyId: values['kms-key-id'],
    minIntervalSeconds,
    force: values.force,
  };
  const ssm = values.local ? localSsmClient() : new SSMClient({});
  try {
    if (positionals[0] === 'init') await initSigningKey(ssm, options);
    else if (positionals[0] === 'rotate') await rotateSigningKey(ssm, options);
    else throw new Error(USAGE);
  } finally {
    ssm.destroy();
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    // The message only: an SDK error object can carry request details.
    console.error(`signing-key: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
