/**
 * The ES256 and RS256 figures of `npm run bench`, each in a process of its own: the functions read their mode
 * (`SIGNING_ALG`) once at import, and the main bench process runs them in HS256.
 *
 * - the authorizer per request, against a minimal SDK authorizer (bench/authorizer.ts);
 * - the session item's size after a login, a refresh and a logout;
 * - the JWKS endpoint's throughput on loopback (ES256);
 * - the authorizer's cold first answer: a fresh `node` importing the deployed bundle (whose init reads the key
 *   ring) and answering one event, against a bundle that only imports the DynamoDB client and makes one
 *   `GetItem` against the same store.
 *
 * Run by itself (`--alg=RS256` for RS256) it prints the table; run by bench/run.ts (`--json`) it prints the rows
 * as JSON.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type BuildOptions, build } from 'esbuild';
import { bundlingOptions } from '../infra/bundling.ts';
import { localDynamoClient } from '../infra/local/dynamo.ts';
import { startLocalServer } from '../infra/local/server.ts';
import { defaults } from '../lib/config.ts';
import { benchAuthorizer } from './authorizer.ts';
import { fmtMs, fmtRatio, median, printTable, type Row } from './measure.ts';
import { sessionItemRows } from './requests.ts';
import { cannon, show } from './throughput.ts';

const root = resolve(import.meta.dirname, '..');
const PASSWORD = 'correct horse battery staple';

const deployed: BuildOptions = {
  bundle: true,
  format: bundlingOptions.format,
  platform: bundlingOptions.platform,
  target: bundlingOptions.target,
  minify: bundlingOptions.minify,
  external: [...bundlingOptions.externalModules],
  banner: { js: bundlingOptions.banner },
  mainFields: [...bundlingOptions.mainFields],
  alias: { ...bundlingOptions.alias },
  logLevel: 'silent',
};

/** Imports a handler module in a fresh process, calls it once, and prints `FIRST_ANSWER_MS=<ms>`. */
const FIRST_ANSWER_TIMER = `const start = process.hrtime.bigint();
const { handler } = await import(process.argv[2]);
const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 10000, callbackWaitsForEmptyEventLoop: false };
const result = await handler(JSON.parse(process.env.BENCH_EVENT), context);
const ms = Number(process.hrtime.bigint() - start) / 1e6;
if (process.env.BENCH_EXPECT && !JSON.stringify(result).includes(process.env.BENCH_EXPECT)) throw new Error('unexpected answer: ' + JSON.stringify(result));
process.stdout.write('\\nFIRST_ANSWER_MS=' + ms + '\\n');
process.exit(0);
`;

const GET_ITEM_ONLY = `import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
const client = new DynamoDBClient({});
export const handler = async (event) => {
  const { Item } = await client.send(new GetItemCommand({ TableName: process.env.TABLE_NAME, Key: { pk: { S: event.pk } }, ConsistentRead: true }));
  return { found: Item !== undefined };
};
`;

/**
 * The authorizer's import + first answer may be at most this fraction of a bundle that only makes one SDK
 * `GetItem`: the authorizer's bundle carries no SDK (its session read is one signed request).
 */
const COLD_START_BUDGET = 0.8;

async function coldFirstAnswer(
  env: Record<string, string>,
  accessToken: string,
  sid: string,
  runs: number,
  algorithm: string,
) {
  const dir = mkdtempSync(join(tmpdir(), 'auth-first-answer-'));
  try {
    const timer = join(dir, 'timer.mjs');
    writeFileSync(timer, FIRST_ANSWER_TIMER);
    const authorizer = join(dir, 'authorizer.mjs');
    await build({ ...deployed, entryPoints: [join(root, 'functions/authorizer.ts')], outfile: authorizer });
    const reference = join(dir, 'get-item.mjs');
    await build({
      ...deployed,
      stdin: { contents: GET_ITEM_ONLY, resolveDir: root, loader: 'js' },
      outfile: reference,
    });
    // Asynchronously: the store and the SSM stand-in answer from this very process.
    const run = async (file: string, event: unknown, expect: string) => {
      const { stdout } = await promisify(execFile)(process.execPath, [timer, file], {
        env: { ...env, BENCH_EVENT: JSON.stringify(event), BENCH_EXPECT: expect },
        maxBuffer: 16 * 1024 * 1024,
      });
      const match = /FIRST_ANSWER_MS=([\d.]+)/.exec(stdout);
      if (!match) throw new Error(`${file} printed no figure`);
      return Number(match[1]);
    };
    const authorizerEvent = {
      type: 'TOKEN',
      authorizationToken: `Bearer ${accessToken}`,
      methodArn: 'arn:aws:execute-api:local:000000000000:local/local/GET/me',
    };
    const own: number[] = [];
    const ref: number[] = [];
    const ratios: number[] = [];
    const first = () => run(authorizer, authorizerEvent, '"Allow"');
    const getItem = () => run(reference, { pk: `session#${sid}` }, 'true');
    await first(); // warm the file cache
    await getItem();
    for (let i = 0; i < runs; i += 1) {
      // Back to back, the order swapped every round, so that a noisy moment hits both alike.
      let a: number;
      let b: number;
      if (i % 2 === 0) {
        a = await first();
        b = await getItem();
      } else {
        b = await getItem();
        a = await first();
      }
      own.push(a);
      ref.push(b);
      ratios.push(a / b);
    }
    const ratio = median(ratios);
    return {
      figure: `cold start: authorizer (${algorithm}) import + first answer / GetItem-only bundle`,
      value: `${fmtRatio(ratio)} (${fmtMs(median(own))} vs ${fmtMs(median(ref))})`,
      budget: `<= ${fmtRatio(COLD_START_BUDGET)}`,
      met: ratio <= COLD_START_BUDGET,
    } satisfies Row;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchAlgorithm(
  algorithm: 'ES256' | 'RS256',
  options: { duration: number; connections: number; runs: number },
) {
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const server = await startLocalServer({ env: { SIGNING_ALG: algorithm } });
  const rows: Row[] = [];
  try {
    const post = async (path: string, body: unknown) =>
      (await (
        await fetch(server.url + path, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json()) as { accessToken: string };
    const username = `bench-${algorithm.toLowerCase()}-${Date.now()}`;
    await post('/auth/register', { username, password: PASSWORD });
    const { accessToken } = await post('/auth/login', { username, password: PASSWORD });
    const sid = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()).sid;

    rows.push(...(await benchAuthorizer(server, algorithm)));
    const raw = localDynamoClient(server.dynamoDbEndpoint);
    try {
      rows.push(
        ...(await sessionItemRows(server, raw, process.env.TABLE_NAME ?? defaults.TABLE_NAME, algorithm)),
      );
    } finally {
      raw.destroy();
    }

    if (algorithm === 'ES256') {
      const jwks = await cannon({
        url: `${server.url}/.well-known/jwks.json`,
        connections: options.connections,
        duration: options.duration,
      });
      rows.push({
        figure: 'throughput: GET /.well-known/jwks.json (ES256)',
        value: show(jwks),
        budget: 'every answer 2xx',
        met: jwks.responses > 0 && jwks.non2xx === 0 && jwks.errors === 0,
      });
    }

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: server.dynamoDbEndpoint,
      AWS_ENDPOINT_URL_SSM: server.ssm.url,
      TABLE_NAME: process.env.TABLE_NAME ?? defaults.TABLE_NAME,
      JWT_SECRET_PARAM: process.env.JWT_SECRET_PARAM ?? defaults.JWT_SECRET_PARAM,
      JWT_ISSUER: server.url,
      SIGNING_ALG: algorithm,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    };
    rows.push(await coldFirstAnswer(env, accessToken, sid, options.runs, algorithm));
  } finally {
    await server.close();
  }
  return rows;
}

/** bench/run.ts: these rows for `algorithm` from a child process (see the module comment). */
export function benchAlgorithmInChild(algorithm: 'ES256' | 'RS256'): Row[] {
  const result = spawnSync(process.execPath, [join(root, 'bench/es256.ts'), '--json', `--alg=${algorithm}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = result.stdout
    .toString()
    .split('\n')
    .find((text) => text.startsWith('ROWS='));
  if (result.status !== 0 || !line) throw new Error(`bench/es256.ts (${algorithm}) failed`);
  return JSON.parse(line.slice('ROWS='.length)) as Row[];
}

if (import.meta.main) {
  const algorithm = process.argv.includes('--alg=RS256') ? 'RS256' : 'ES256';
  const rows = await benchAlgorithm(algorithm, { duration: 5, connections: 10, runs: 15 });
  if (process.argv.includes('--json')) process.stdout.write(`\nROWS=${JSON.stringify(rows)}\n`);
  else printTable(rows);
  process.exit(0);
}
