import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { bundlingOptions } from '../infra/bundling.ts';
import { lambdaContext, proxyEvent } from '../infra/local/events.ts';
import type { LocalServer } from '../infra/local/server.ts';
import { type FunctionName, functionNames, routes } from '../infra/routes.ts';
import { defaultServices } from '../lib/services.ts';
import { fmtKb, fmtMs, fmtRatio, median, type Row } from './measure.ts';
import { TestAuthenticator } from './software-authenticator.ts';

const root = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const PASSWORD = 'correct horse battery staple';

/**
 * How much slower a function's cold start (import + first answer, the empty module's subtracted) may be than
 * that of a bundle that only does one DynamoDB GetItem. The functions add the SSM read of the signing keys,
 * token signing or verifying, and middy/Powertools (measured 1.2-1.9x on a busy 2-core machine); login and
 * register an argon2id hash at full strength, which is the price of the password check, not of a cold start:
 * their budget is the wider one. Fresh processes are noisy, so the budgets catch a heavy new dependency or
 * eager work at import, not a few milliseconds.
 */
const BUDGET: Record<FunctionName, number> = {
  // No SDK in its bundle: its session read is one signed request (lib/store/dynamodb-http.ts).
  authorizer: 0.8,
  refresh: 2.5,
  logout: 2.5,
  'logout-all': 2.5,
  me: 2.5,
  discovery: 2.5,
  // Two static pages and middy, no SDK (measured 0.42x): a budget that an SDK or a store client pulled in breaks.
  'link-pages': 1,
  'list-sessions': 2.5,
  'revoke-session': 2.5,
  'list-passkeys': 2.5,
  'rename-passkey': 2.5,
  'delete-passkey': 2.5,
  login: 3.5,
  register: 3.5,
  // They carry the password code (and change-password the common-password list) as login and register do.
  'change-password': 3.5,
  'delete-account': 3.5,
  'get-account': 2.5,
  'verify-email': 2.5,
  'resend-verification': 2.5,
  'forgot-password': 2.5,
  // Hash passwords (and carry the common-password list) as change-password does.
  'change-email': 3.5,
  'reset-password': 3.5,
  // The SES client and nodemailer's composer.
  mailer: 3.5,
  // The password code as well (they re-check the password), and otpauth.
  'totp-enrol': 3.5,
  'totp-disable': 3.5,
  'recovery-codes': 3.5,
  'totp-confirm': 2.5,
  'login-mfa': 2.5,
  // SimpleWebAuthn (with its ASN.1 and X.509 parsers for attestation statements) rides along in these.
  'passkey-register-options': 3.5,
  'register-passkey': 3.5,
  'passkey-login-options': 3.5,
  'login-mfa-options': 3.5,
  'passkey-login': 3.5,
};

/** The first answers that are not a 2xx: the bench's service signs with HS256, which publishes no keys (404). */
const EXPECTED_STATUS: Partial<Record<FunctionName, number>> = {
  discovery: 404,
  // Their first answer is a refusal that needs no password check, so that rounds do not change the account:
  // a weak new password, a body without the password.
  'change-password': 400,
  'delete-account': 400,
  // A body without the password (or the code): answered before any password check or store write.
  'totp-enrol': 400,
  'totp-confirm': 400,
  'totp-disable': 400,
  'recovery-codes': 400,
  // No mfaToken: refused before anything is read.
  'login-mfa': 400,
  // No link: refused before anything is read (the second-factor check and the hashing come after the link).
  'reset-password': 400,
  'verify-email': 400,
  // The caller's session is checked and its account read; it has no address to change to or to verify.
  'change-email': 400,
  'resend-verification': 400,
};

/** esbuild options equal to what the stack deploys (infra/bundling.ts), plus the metafile for composition. */
const deployed: BuildOptions = {
  bundle: true,
  format: bundlingOptions.format,
  platform: bundlingOptions.platform,
  target: bundlingOptions.target,
  minify: bundlingOptions.minify,
  sourcemap: bundlingOptions.sourcemap,
  external: [...bundlingOptions.externalModules],
  banner: { js: bundlingOptions.banner },
  mainFields: [...bundlingOptions.mainFields],
  alias: { ...bundlingOptions.alias },
  metafile: true,
  logLevel: 'silent',
};

/** The least a function touching DynamoDB can be: the SDK's document client and one consistent GetItem. */
const GET_ITEM_SOURCE = `
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
const db = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const handler = async () => {
  const { Item } = await db.send(
    new GetCommand({ TableName: process.env.TABLE_NAME, Key: { pk: 'session#cold-start' }, ConsistentRead: true }),
  );
  return { statusCode: 200, body: JSON.stringify(Item ?? null) };
};
`;
const EMPTY_SOURCE = 'export const handler = async () => ({ statusCode: 200 });\n';

/**
 * Runs in a fresh `node`: imports the bundle, then calls its handler once with the event in argv[3], and prints
 * both times in ms. Node's own start-up is left out (and the empty module's figures are subtracted), which
 * makes the figures far less noisy than the wall time of the whole process. A failed answer is an error.
 */
const RUNNER = `import { readFileSync } from 'node:fs';
const { event, context, expect } = JSON.parse(readFileSync(process.argv[3], 'utf8'));
context.getRemainingTimeInMillis = () => 10000;
const t0 = process.hrtime.bigint();
const { handler } = await import(process.argv[2]);
const t1 = process.hrtime.bigint();
const answer = await handler(event, context);
const t2 = process.hrtime.bigint();
const ok = answer && (expect ? answer.statusCode === expect : answer.principalId || (answer.statusCode >= 200 && answer.statusCode < 300) || (Array.isArray(answer.batchItemFailures) && answer.batchItemFailures.length === 0));
if (!ok) { console.error(JSON.stringify(answer).slice(0, 300)); process.exit(3); }
process.stdout.write(JSON.stringify({ importMs: Number(t1 - t0) / 1e6, firstMs: Number(t2 - t1) / 1e6 }));
`;

interface Timing {
  importMs: number;
  firstMs: number;
}

/** The five packages that contribute most bytes to a bundle (our own code counted as one). */
function composition(metafile: Metafile, outfile: string): string {
  const output = Object.entries(metafile.outputs).find(([path]) => resolve(root, path) === outfile)?.[1];
  const byPackage = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? '(our code)';
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return [...byPackage]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([name, bytes]) => `${name} ${fmtKb(bytes)}`)
    .join(', ');
}

export interface ColdStartOptions {
  runs: number;
  /** Only these functions (all when absent). */
  only?: readonly FunctionName[];
}

/**
 * Each function bundled as deployed: its size, its five biggest packages, and its cold start in a fresh
 * process (the import, and the first answer to a real request against the local store and SSM stand-in of
 * `server`), against the same for an empty module and for a bundle that only does one DynamoDB GetItem.
 */
export async function benchColdStart(server: LocalServer, options: ColdStartOptions): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-cold-start-'));
  try {
    const runner = join(dir, 'runner.mjs');
    writeFileSync(runner, RUNNER);
    const bundle = async (name: string, entry: { file: string } | { source: string }) => {
      const out = join(dir, name);
      mkdirSync(out);
      const outfile = join(out, 'index.mjs');
      const result = await build({
        ...deployed,
        ...('file' in entry
          ? { entryPoints: [entry.file] }
          : { stdin: { contents: entry.source, resolveDir: root, loader: 'js' as const } }),
        outfile,
      });
      return { outfile, size: statSync(outfile).size, metafile: result.metafile as Metafile };
    };
    const names = options.only ?? functionNames;
    const bundles = new Map<FunctionName, Awaited<ReturnType<typeof bundle>>>();
    for (const name of names)
      bundles.set(name, await bundle(name, { file: join(root, 'functions', `${name}.ts`) }));
    const getItem = await bundle('get-item', { source: GET_ITEM_SOURCE });
    const empty = await bundle('empty', { source: EMPTY_SOURCE });

    // The requests of the first answers: each needs state of its own in the store (a fresh name to register,
    // a session to refresh or log out), made through the running service before each round.
    const call = async (method: string, path: string, body?: unknown, bearer?: string) => {
      const answer = await server.gateway.handle({
        method,
        path,
        headers: {
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...(bearer && { authorization: `Bearer ${bearer}` }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return JSON.parse(answer.body || 'null');
    };
    const runId = Date.now().toString(36);
    const account = `cold-${runId}`;
    await call('POST', '/auth/register', { username: account, password: PASSWORD });
    const login = () => call('POST', '/auth/login', { username: account, password: PASSWORD });
    // A software authenticator on the server's passkey origin: a passkey for the passkey functions' answers.
    const passkeys = new TestAuthenticator(defaultServices().config.webauthn.origins[0] ?? '');
    // Each passkey on an account of its own: an account with a passkey answers a password login `mfa_required`.
    let holders = 0;
    const enrol = async () => {
      const username = `${account}-passkey-${++holders}`;
      await call('POST', '/auth/register', { username, password: PASSWORD });
      const { accessToken } = await call('POST', '/auth/login', { username, password: PASSWORD });
      const options = await call(
        'POST',
        '/auth/passkeys/register/options',
        { password: PASSWORD },
        accessToken,
      );
      const added = await call(
        'POST',
        '/auth/passkeys/register',
        { response: passkeys.register(options) },
        accessToken,
      );
      return { accessToken, passkeyId: String(added?.passkeyId), username };
    };
    const withBearer = (
      method: string,
      path: string,
      bearer: string,
      pathParameters?: Record<string, string>,
      body?: unknown,
    ) =>
      proxyEvent({
        method,
        path,
        ...(pathParameters && { resource: '/auth/passkeys/{passkeyId}', pathParameters }),
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    const post = (path: string, body: unknown, bearer?: string) =>
      proxyEvent({
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', ...(bearer && { authorization: `Bearer ${bearer}` }) },
        body: JSON.stringify(body),
      });
    const eventFor = async (name: FunctionName, round: number): Promise<unknown> => {
      switch (name) {
        case 'register':
          return post('/auth/register', { username: `${account}-${round}`, password: PASSWORD });
        case 'login':
          return post('/auth/login', { username: account, password: PASSWORD });
        case 'refresh':
          return post('/auth/refresh', { refreshToken: (await login()).refreshToken });
        case 'logout':
        case 'logout-all':
          return post(`/auth/${name}`, {}, (await login()).accessToken);
        case 'authorizer':
          return {
            type: 'TOKEN',
            authorizationToken: `Bearer ${(await login()).accessToken}`,
            methodArn: 'arn:aws:execute-api:local:000000000000:local/local/GET/me',
          };
        case 'discovery':
          return proxyEvent({ method: 'GET', path: '/.well-known/jwks.json' });
        case 'link-pages':
          return proxyEvent({ method: 'GET', path: '/reset-password' });
        case 'list-sessions': {
          const { accessToken } = await login();
          return proxyEvent({
            method: 'GET',
            path: '/auth/sessions',
            headers: { authorization: `Bearer ${accessToken}` },
          });
        }
        case 'revoke-session': {
          // Its own session: a logout.
          const { accessToken } = await login();
          const sid = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()).sid;
          return proxyEvent({
            method: 'DELETE',
            path: `/auth/sessions/${sid}`,
            resource: '/auth/sessions/{sessionId}',
            pathParameters: { sessionId: sid },
            headers: { authorization: `Bearer ${accessToken}` },
          });
        }
        case 'change-password':
          return post(
            '/auth/password',
            { currentPassword: PASSWORD, newPassword: 'short' },
            (await login()).accessToken,
          );
        case 'delete-account':
          return proxyEvent({
            method: 'DELETE',
            path: '/auth/account',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${(await login()).accessToken}`,
            },
            body: '{}',
          });
        case 'login-mfa':
          return post('/auth/login/mfa', {});
        case 'login-mfa-options': {
          // A password login of an account with a passkey: its mfaToken asks for the passkey's options.
          const { username } = await enrol();
          const { mfaToken } = await call('POST', '/auth/login', { username, password: PASSWORD });
          return post('/auth/login/mfa/options', { mfaToken });
        }
        case 'totp-enrol':
        case 'totp-confirm':
        case 'totp-disable':
        case 'recovery-codes': {
          const route = routes.find((candidate) => candidate.function === name);
          return proxyEvent({
            method: route?.method ?? 'POST',
            path: route?.path ?? '/',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${(await login()).accessToken}`,
            },
            body: '{}',
          });
        }
        case 'passkey-register-options':
          return post('/auth/passkeys/register/options', { password: PASSWORD }, (await login()).accessToken);
        case 'register-passkey': {
          // An account of its own: the passkey this answer adds would make the next password login ask for it.
          const username = `${account}-passkey-${++holders}`;
          await call('POST', '/auth/register', { username, password: PASSWORD });
          const { accessToken } = await call('POST', '/auth/login', { username, password: PASSWORD });
          const options = await call(
            'POST',
            '/auth/passkeys/register/options',
            { password: PASSWORD },
            accessToken,
          );
          return post('/auth/passkeys/register', { response: passkeys.register(options) }, accessToken);
        }
        case 'list-passkeys':
          return withBearer('GET', '/auth/passkeys', (await login()).accessToken);
        case 'rename-passkey':
        case 'delete-passkey': {
          const { accessToken, passkeyId } = await enrol();
          return withBearer(
            name === 'rename-passkey' ? 'PATCH' : 'DELETE',
            `/auth/passkeys/${passkeyId}`,
            accessToken,
            { passkeyId },
            name === 'rename-passkey' ? { name: 'renamed' } : undefined,
          );
        }
        case 'get-account':
          return withBearer('GET', '/auth/account', (await login()).accessToken);
        case 'reset-password':
          return post('/auth/password/reset', {});
        case 'verify-email':
          return post('/auth/email/verify', {});
        case 'change-email':
          return post('/auth/email', {}, (await login()).accessToken);
        case 'resend-verification':
          return post('/auth/email/resend', {}, (await login()).accessToken);
        case 'forgot-password':
          // An address no account holds: the answer is the same 202, and the queued request sends nothing.
          return post('/auth/password/forgot', { email: `${account}-${round}@example.com` });
        case 'mailer':
          // The queue's consumer on one request for an address no account holds: looked up, nothing to send.
          return {
            Records: [
              {
                messageId: `cold-${round}`,
                body: JSON.stringify({ kind: 'forgot', email: `${account}-mailer-${round}@example.com` }),
              },
            ],
          };
        case 'passkey-login-options':
          return post('/auth/passkeys/login/options', {});
        case 'passkey-login': {
          await enrol();
          const options = await call('POST', '/auth/passkeys/login/options', {});
          return post('/auth/passkeys/login', {
            challengeId: options.challengeId,
            response: passkeys.assert(options),
          });
        }
        case 'me':
          return proxyEvent({
            method: 'GET',
            path: '/me',
            authorizer: { principalId: 'user', userId: 'user', username: account, sessionId: 'session' },
          });
        default: {
          // Every function needs a first request here: a new one fails the typecheck until it has one.
          const unhandled: never = name;
          throw new Error(`no first request for ${String(unhandled)}`);
        }
      }
    };
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: server.dynamoDbEndpoint,
      AWS_ENDPOINT_URL_SSM: server.ssm.url,
      TABLE_NAME: process.env.TABLE_NAME,
      JWT_SECRET_PARAM: process.env.JWT_SECRET_PARAM,
      JWT_ISSUER: process.env.JWT_ISSUER,
      WEBAUTHN_ORIGINS: process.env.WEBAUTHN_ORIGINS,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL,
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED,
    };
    let events = 0;
    /**
     * A fresh `node` importing `file` and answering `event` once. Asynchronous: the store and the SSM stand-in
     * it calls run in this process.
     */
    const runOnce = async (file: string, event: unknown, name: string): Promise<Timing> => {
      events += 1;
      const eventFile = join(dir, `event-${events}.json`);
      const expect = EXPECTED_STATUS[name as FunctionName];
      writeFileSync(eventFile, JSON.stringify({ event, context: lambdaContext(name), expect }));
      try {
        const { stdout } = await run(process.execPath, [runner, file, eventFile], { env, timeout: 120_000 });
        return JSON.parse(stdout) as Timing;
      } catch (error) {
        const stderr = (error as { stderr?: string }).stderr ?? String(error);
        throw new Error(`cold start of ${name} failed: ${stderr.slice(0, 500)}`);
      }
    };

    const times = new Map<string, Timing[]>();
    const ratios = new Map<FunctionName, number[]>();
    const record = (key: string, timing: Timing) => times.set(key, [...(times.get(key) ?? []), timing]);
    const total = (t: Timing) => t.importMs + t.firstMs;
    // Warm the file cache, then rounds: in each, every function, the GetItem bundle and the empty module run in
    // alternating order, so that a noisy moment on this shared machine weighs on both sides of a ratio alike.
    await runOnce(getItem.outfile, {}, 'get-item');
    for (let round = 0; round < options.runs; round += 1) {
      const emptyTiming = await runOnce(empty.outfile, {}, 'empty');
      record('empty', emptyTiming);
      for (const name of names) {
        const event = await eventFor(name, round);
        const own = () => runOnce((bundles.get(name) as { outfile: string }).outfile, event, name);
        const ref = () => runOnce(getItem.outfile, {}, 'get-item');
        let mine: Timing;
        let base: Timing;
        if (round % 2 === 0) {
          mine = await own();
          base = await ref();
        } else {
          base = await ref();
          mine = await own();
        }
        record(name, mine);
        record('get-item', base);
        ratios.set(name, [
          ...(ratios.get(name) ?? []),
          (total(mine) - total(emptyTiming)) / (total(base) - total(emptyTiming)),
        ]);
      }
    }
    const med = (key: string, pick: (t: Timing) => number) => median((times.get(key) ?? []).map(pick));
    const show = (key: string) =>
      `import ${fmtMs(med(key, (t) => t.importMs))} + first answer ${fmtMs(med(key, (t) => t.firstMs))}`;
    const rows: Row[] = [
      { figure: 'cold start: empty module', value: show('empty'), budget: '-', met: undefined },
      {
        figure: 'cold start: one-GetItem bundle (the reference)',
        value: `${fmtKb(getItem.size)}; ${show('get-item')}`,
        budget: '-',
        met: undefined,
      },
    ];
    for (const name of names) {
      const built = bundles.get(name) as Awaited<ReturnType<typeof bundle>>;
      const ratio = median(ratios.get(name) ?? []);
      rows.push({
        figure: `cold start: ${name} (import + first answer, less the empty module) / reference`,
        value: `${fmtRatio(ratio)}; ${fmtKb(built.size)}; ${show(name)}`,
        budget: `<= ${fmtRatio(BUDGET[name])}`,
        met: ratio <= BUDGET[name],
      });
      rows.push({
        figure: `bundle composition: ${name} (top 5 packages)`,
        value: composition(built.metafile, built.outfile),
        budget: '-',
        met: undefined,
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
