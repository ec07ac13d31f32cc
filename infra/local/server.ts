import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults } from '../../lib/config.ts';
import { type ErrorCode, errorCatalogue } from '../../lib/errors.ts';
import { createMailTransport } from '../../lib/mail/transport.ts';
import { provideMailTransport, type ServiceOptions, setDefaultServiceOptions } from '../../lib/services.ts';
import {
  generateSigningKey,
  isSigningAlgorithm,
  KeyRingError,
  parseKeyRing,
  signingAlgorithms,
} from '../../lib/tokens/keyring.ts';
import { claimDataDir, keptSigningKey, ssmParametersPath, storePath, writeSsmEndpoint } from './data-dir.ts';
import { serveDemoPage } from './demo-page.ts';
import { createTable, type LocalDynamo, startLocalDynamo } from './dynamo.ts';
import { createGateway, type Gateway, type Handlers, isRoutePath, loadHandlers } from './gateway.ts';
import { serveMailbox } from './mailbox.ts';
import { type SsmStandIn, startSsmStandIn } from './ssm-stand-in.ts';

export interface LocalServerOptions {
  /** Port for the API on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** The signing-key value (single key or JSON ring); a random ephemeral key of `SIGNING_ALG` when absent. */
  jwtSecret?: string | undefined;
  /**
   * `JWT_ISSUER` (unless `env` sets it). With ES256/RS256 it defaults to the server's own base URL, where
   * verifiers find the discovery document (API.md); with HS256 to the configured default, so that tokens
   * survive a restart on another port.
   */
  issuer?: string | undefined;
  /** An existing DynamoDB-compatible endpoint; an embedded store when absent. */
  dynamoDbEndpoint?: string | undefined;
  /**
   * `LOCAL_DATA_DIR`: where the embedded store and a generated signing key persist, so that a restart keeps
   * accounts, sessions and tokens valid (infra/local/data-dir.ts). Absent: nothing is kept.
   */
  dataDir?: string | undefined;
  /** An HTTP status the SSM stand-in fails with from the start, before the functions load (a test fault). */
  ssmFault?: number | undefined;
  /** Extra environment for the functions (token lifetimes and the like). */
  env?: Record<string, string>;
  /** What the functions' services are created with beyond the environment (tests: cheaper argon2id). */
  services?: ServiceOptions;
}

/** The service without its HTTP listener: the store, the SSM stand-in, the handlers and the gateway in front. */
export interface LocalBackend {
  gateway: Gateway;
  handlers: Handlers;
  ssm: SsmStandIn;
  dynamoDbEndpoint: string;
  /** True when the signing key was generated for this run only. */
  ephemeralKey: boolean;
  /** The file the signing key (or the ring a script put into the SSM stand-in) is kept in, when it is kept. */
  keyFile: string | undefined;
  /** Where the `file` mail transport writes (`MAIL_DIR`): the local mail box. */
  mailDir: string;
  /** True when the key ring is one that `secret:init` / `secret:rotate -- --local` put into the stand-in. */
  keyRingStored: boolean;
  close(): Promise<void>;
}

export interface LocalServer extends Omit<LocalBackend, 'close'> {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts everything the functions need in this process: the embedded DynamoDB-compatible store (or
 * `dynamoDbEndpoint`) with the table, the SSM stand-in holding the signing key, then the environment and the
 * handlers (imported after it, as Lambda reads its configuration at cold start) behind the gateway.
 * `baseUrl` is where the service is reached, if anywhere: the default issuer with ES256/RS256 (which must be a
 * URL; `http://localhost` for a backend with no listener).
 */
export async function startLocalBackend(
  options: LocalServerOptions & { baseUrl?: string } = {},
): Promise<LocalBackend> {
  const algorithm = options.env?.SIGNING_ALG ?? process.env.SIGNING_ALG ?? defaults.SIGNING_ALG;
  if (!isSigningAlgorithm(algorithm)) {
    throw new Error(`SIGNING_ALG must be one of ${signingAlgorithms.join(', ')}`);
  }
  // The embedded store's files allow one process: claimed first, so nothing of another server's store or key
  // is touched when the directory is taken. (With DYNAMODB_ENDPOINT there is no store there to claim, and with
  // JWT_SECRET too, the directory is not even created.)
  const storeDir = options.dataDir && !options.dynamoDbEndpoint ? options.dataDir : undefined;
  const release = storeDir ? claimDataDir(storeDir) : () => {};
  const tableName = options.env?.TABLE_NAME ?? process.env.TABLE_NAME ?? defaults.TABLE_NAME;
  const parameterName =
    options.env?.JWT_SECRET_PARAM ?? process.env.JWT_SECRET_PARAM ?? defaults.JWT_SECRET_PARAM;
  let dynamo: LocalDynamo | undefined;
  let ssm: SsmStandIn | undefined;
  let endpointFile: string | undefined;
  const closeAll = async () => {
    if (endpointFile) rmSync(endpointFile, { force: true });
    await ssm?.close();
    await dynamo?.close();
    release();
  };
  let kept: ReturnType<typeof keptSigningKey> | undefined;
  let stored: string | undefined;
  let secret: string;
  try {
    // The key ring lives in the SSM stand-in, as on AWS; with a data directory, what `secret:init` /
    // `secret:rotate -- --local` put there is kept, and wins over the generated key (JWT_SECRET wins over both).
    ssm = await startSsmStandIn(0, options.dataDir && ssmParametersPath(options.dataDir));
    stored = options.jwtSecret ? undefined : ssm.getParameter(parameterName);
    kept =
      !options.jwtSecret && !stored && options.dataDir
        ? keptSigningKey(options.dataDir, algorithm)
        : undefined;
    secret = options.jwtSecret || stored || kept?.key || generateSigningKey(algorithm);
    try {
      parseKeyRing(secret, algorithm); // refuse a short, malformed or other-algorithm key at start-up, clearly
    } catch (error) {
      if (stored && error instanceof KeyRingError) {
        throw new KeyRingError(
          `${parameterName} in the local SSM stand-in (${ssmParametersPath(options.dataDir as string)}) is not a ${algorithm} key ring: ${error.message}. Start with the SIGNING_ALG it was made for, or another JWT_SECRET_PARAM.`,
        );
      }
      throw error;
    }
    dynamo = options.dynamoDbEndpoint
      ? undefined
      : await startLocalDynamo(0, { path: storeDir && storePath(storeDir) });
  } catch (error) {
    await closeAll();
    throw error;
  }
  const ephemeralKey = !options.jwtSecret && !stored && !kept;
  const dynamoDbEndpoint = options.dynamoDbEndpoint ?? (dynamo as LocalDynamo).endpoint;
  try {
    // The seed is not written to the stand-in's file: the generated key has its own (per algorithm), and only
    // a ring a script put there is kept across restarts.
    if (!stored) ssm.setParameter(parameterName, secret);
    ssm.failWith(options.ssmFault);
    // Where `npm run secret:rotate -- --local` finds this server's stand-in (in a directory in use anyway).
    if (options.dataDir && (storeDir || kept || stored))
      endpointFile = writeSsmEndpoint(options.dataDir, ssm.url);
    await createTable(dynamoDbEndpoint, tableName);

    // The functions read their configuration once, at import, from the environment: as on Lambda.
    const issuer =
      options.issuer ??
      (algorithm === 'HS256' ? defaults.JWT_ISSUER : (options.baseUrl ?? 'http://localhost'));
    // Mail: the file sink in the data directory (a directory of this run's own without one), links to the pages
    // this server serves.
    const pages = options.baseUrl ?? 'http://localhost';
    const mailDir =
      options.env?.MAIL_DIR ??
      process.env.MAIL_DIR ??
      (options.dataDir ? join(options.dataDir, 'mail') : mkdtempSync(join(tmpdir(), 'auth-mail-')));
    Object.assign(process.env, {
      MAIL_DIR: mailDir,
      EMAIL_VERIFY_URL: process.env.EMAIL_VERIFY_URL ?? `${pages}/verify-email`,
      PASSWORD_RESET_URL: process.env.PASSWORD_RESET_URL ?? `${pages}/reset-password`,
      JWT_ISSUER: issuer,
      AWS_REGION: process.env.AWS_REGION ?? 'local',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
      AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint,
      // The local store shares this process's CPU with argon2 and every handler: a slow answer or a slow loopback
      // connect here is load, not a store that hangs, and retrying it would only add load (with the 1 s connect
      // timeout, 200 logins at once answered 503 on a busy machine). Lambda keeps createDynamoDbClient's 2 s and 1 s.
      DYNAMODB_REQUEST_TIMEOUT_MS: process.env.DYNAMODB_REQUEST_TIMEOUT_MS ?? '15000',
      DYNAMODB_CONNECTION_TIMEOUT_MS: process.env.DYNAMODB_CONNECTION_TIMEOUT_MS ?? '15000',
      AWS_ENDPOINT_URL_SSM: ssm.url,
      TABLE_NAME: tableName,
      JWT_SECRET_PARAM: parameterName,
      ...options.env,
    });
    // Mail goes out in this process (the in-process outbox delivers it).
    provideMailTransport(createMailTransport);
    if (options.services) setDefaultServiceOptions(options.services);
    const handlers = await loadHandlers();
    return {
      gateway: createGateway(handlers),
      handlers,
      ssm,
      dynamoDbEndpoint,
      ephemeralKey,
      keyFile: kept?.file ?? (stored ? ssmParametersPath(options.dataDir as string) : undefined),
      keyRingStored: stored !== undefined,
      mailDir,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The origins this process derived itself (so that a later server in the same process derives its own). */
let derivedOrigins: string | undefined;

/**
 * `WEBAUTHN_ORIGINS` of a local server on `port`: as configured, or else the page's own origin under the name
 * `localhost` (`http://localhost:<port>`), since browsers refuse WebAuthn on an IP address such as 127.0.0.1.
 */
function webauthnOrigins(options: LocalServerOptions, port: number): string {
  const configured = options.env?.WEBAUTHN_ORIGINS ?? process.env.WEBAUTHN_ORIGINS;
  if (configured && configured !== derivedOrigins) return configured;
  derivedOrigins = `${localPageUrl(port)}`;
  return derivedOrigins;
}

/** The demo page's URL for a server on `port`: `localhost`, where WebAuthn works, rather than 127.0.0.1. */
export const localPageUrl = (port: number | string) => `http://localhost:${port}`;

/** API Gateway refuses bodies over 10 MB before any function runs; so does this server. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;

/**
 * Starts the service locally: an HTTP server on 127.0.0.1 that hands each request to the gateway of
 * {@link startLocalBackend} (API Gateway's part: routes, CORS, the authorizer, then a REST v1 proxy event).
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  // Listening first, so that the server's own URL (the default issuer) is known before the functions load. A
  // request that arrives meanwhile (the port is open a moment before the URL is printed) waits for them rather
  // than getting a 503: from the first connection on, every answer is the service's own.
  let backendLoaded!: (backend: LocalBackend) => void;
  let backendFailed!: (error: unknown) => void;
  const backendReady = new Promise<LocalBackend>((resolve, reject) => {
    backendLoaded = resolve;
    backendFailed = reject;
  });
  backendReady.catch(() => {}); // the failure is start-up's to report; waiting requests answer 503 below
  const server: Server = createServer((req, res) => {
    backendReady
      .then(
        (backend) => serve(req, res, backend),
        () => sendError(res, 'service_unavailable', { 'Retry-After': '1' }),
      )
      .catch((error: unknown) => {
        // Never a 500 (API.md): whatever failed here is the server's own trouble, and a retry may well succeed.
        console.error('local server: unexpected failure', error instanceof Error ? error.message : error);
        if (!res.headersSent) sendError(res, 'service_unavailable', { 'Retry-After': '1' });
      });
  });
  // What Node's HTTP parser refuses before any handler runs (a malformed request line or header): answered in the
  // contract's shape instead of Node's bare 400.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const body = JSON.stringify(errorBody('invalid_request', 'The request is not valid HTTP.'));
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let started: LocalBackend;
  try {
    started = await startLocalBackend({
      ...options,
      baseUrl: url,
      env: { WEBAUTHN_ORIGINS: webauthnOrigins(options, port), ...options.env },
    });
  } catch (error) {
    backendFailed(error);
    server.close();
    throw error;
  }
  backendLoaded(started);
  return {
    ...started,
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await started.close();
    },
  };
}

const errorBody = (code: ErrorCode, message: string = errorCatalogue[code].message) => ({
  error: code,
  message,
});

function sendError(
  res: ServerResponse,
  code: ErrorCode,
  headers: Record<string, string> = {},
  message?: string,
) {
  sendJson(res, errorCatalogue[code].status, errorBody(code, message), headers);
}

/** The request target as a URL, or `undefined` when it is not one (`http://[`, a port out of range). */
function requestUrl(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > GATEWAY_MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function singleValueHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function serve(req: IncomingMessage, res: ServerResponse, backend: LocalBackend): Promise<void> {
  const { gateway } = backend;
  const url = requestUrl(req.url);
  if (!url) {
    // API Gateway never passes such a target on; a client that sends one gets the contract's 400.
    req.resume();
    return sendError(res, 'invalid_request', {}, 'The request target is not a valid URL.');
  }
  if (!isRoutePath(url.pathname) && (await serveDemoPage(req, res, url.pathname))) return;
  if (!isRoutePath(url.pathname) && (await serveMailbox(req, res, url.pathname, backend.mailDir))) return;
  const body = await readBody(req);
  const answer = await gateway.handle({
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: singleValueHeaders(req),
    body: body ?? '',
    bodyTooLarge: body === undefined,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
  });
  res.writeHead(answer.status, { ...answer.headers, ...answer.multiValueHeaders });
  res.end(answer.body);
}
