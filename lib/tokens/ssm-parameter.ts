import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256, nodeTransport } from '../aws/http.ts';

/**
 * Reads one SSM parameter (`GetParameter`, decrypted) with a single SigV4-signed POST (`lib/aws/http.ts`): the signing is
 * `@smithy/signature-v4`'s, the credentials those Lambda puts in the environment. This replaces the whole SSM
 * client (and Powertools' provider over it) in every function's bundle: on a cold start that is ~85 KB less
 * code to load for a call that is one POST. Scripts that manage the ring keep the full client.
 */
export type SsmParameterReader = (name: string) => Promise<string>;

/** Why a read failed; `retryable` for throttling, a 5xx or a network fault. The message never holds a value. */
export class SsmReadError extends Error {
  override name = 'SsmReadError';
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

type Env = Record<string, string | undefined>;

export interface SsmReaderOptions {
  /** Milliseconds one attempt may take, connection included. */
  attemptTimeoutMs?: number;
  /** Attempts in all, for retryable failures only. */
  maxAttempts?: number;
}

/**
 * A reader over the environment Lambda provides: `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_SESSION_TOKEN`; `AWS_ENDPOINT_URL_SSM` (or `AWS_ENDPOINT_URL`) overrides the endpoint, as for the SDK.
 * Each read rejects with {@link SsmReadError} after at most `maxAttempts` bounded attempts.
 */
export function createSsmParameterReader(
  env: Env = process.env,
  options: SsmReaderOptions = {},
): SsmParameterReader {
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 2000;
  const maxAttempts = options.maxAttempts ?? 3;
  return async (name) => {
    const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!region || !accessKeyId || !secretAccessKey) {
      throw new SsmReadError('no AWS region or credentials in the environment', false);
    }
    const endpoint = new URL(
      env.AWS_ENDPOINT_URL_SSM ??
        env.AWS_ENDPOINT_URL ??
        `https://ssm.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`,
    );
    const signer = new SignatureV4({
      service: 'ssm',
      region,
      sha256: NodeSha256,
      credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN },
    });
    const body = JSON.stringify({ Name: name, WithDecryption: true });
    let lastError: SsmReadError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt * Math.random()));
      try {
        return await readOnce(signer, endpoint, body, attemptTimeoutMs);
      } catch (error) {
        lastError =
          error instanceof SsmReadError
            ? error
            : new SsmReadError(`SSM unreachable: ${(error as Error).name}`, true);
        if (!lastError.retryable) break;
      }
    }
    throw lastError as SsmReadError;
  };
}

async function readOnce(
  signer: SignatureV4,
  endpoint: URL,
  body: string,
  timeoutMs: number,
): Promise<string> {
  const signed = await signer.sign({
    method: 'POST',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : undefined,
    path: endpoint.pathname,
    query: {},
    headers: {
      host: endpoint.host,
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AmazonSSM.GetParameter',
    },
    body,
  });
  const response = await nodeTransport({
    url: endpoint,
    headers: { ...signed.headers, 'content-length': String(Buffer.byteLength(body)) },
    body,
    signal: AbortSignal.timeout(timeoutMs),
    connectTimeoutMs: timeoutMs,
  });
  const text = response.body;
  if (response.status !== 200) {
    // The error's type only (e.g. ParameterNotFound, AccessDeniedException, ThrottlingException).
    let type = 'unknown';
    try {
      type =
        String((JSON.parse(text) as { __type?: unknown }).__type ?? type)
          .split('#')
          .pop() ?? type;
    } catch {
      // not JSON: keep "unknown"
    }
    const retryable = response.status >= 500 || response.status === 429 || /Throttl/.test(type);
    throw new SsmReadError(`SSM GetParameter failed: ${response.status} ${type}`, retryable);
  }
  const value = (JSON.parse(text) as { Parameter?: { Value?: unknown } }).Parameter?.Value;
  if (typeof value !== 'string') throw new SsmReadError('SSM parameter has no value', false);
  return value;
}
