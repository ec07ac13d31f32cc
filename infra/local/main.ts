import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KeyRingError } from '../../lib/tokens/keyring.ts';
import { DEFAULT_LOCAL_DATA_DIR } from './data-dir.ts';
import { localPageUrl, startLocalServer } from './server.ts';
import { walkThrough } from './walk-through.ts';

const usage = `npm start [-- --in-memory]

The auth service on http://127.0.0.1:$PORT (default 3000), with an embedded DynamoDB-compatible store.

  --in-memory   keep nothing: the store and a generated signing key live only as long as the server
  --help        this text

Environment (see README, Configuration): PORT, LOCAL_DATA_DIR (default ${DEFAULT_LOCAL_DATA_DIR}/: where the
store and the generated signing key are kept across restarts), JWT_SECRET, DYNAMODB_ENDPOINT, CORS_ORIGINS,
and the service's own settings (ACCESS_TOKEN_TTL, ...).`;

/** `npm start`: the whole service on 127.0.0.1, with its embedded DynamoDB-compatible store. */
async function main(): Promise<void> {
  let args: { 'in-memory'?: boolean; help?: boolean };
  try {
    args = parseArgs({
      options: { 'in-memory': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${usage}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(usage);
    return;
  }
  const port = Number(process.env.PORT ?? 3000);
  const dataDir = args['in-memory']
    ? undefined
    : resolve(process.env.LOCAL_DATA_DIR || DEFAULT_LOCAL_DATA_DIR);
  // CloudWatch metrics (EMF lines on stdout) mean nothing on a laptop; set it to false to see them anyway.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  let server: Awaited<ReturnType<typeof startLocalServer>>;
  try {
    server = await startLocalServer({
      port,
      jwtSecret: process.env.JWT_SECRET,
      issuer: process.env.JWT_ISSUER,
      dynamoDbEndpoint: process.env.DYNAMODB_ENDPOINT,
      dataDir,
    });
  } catch (error) {
    if (error instanceof KeyRingError) {
      console.error(`JWT_SECRET is not usable: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  if (server.ephemeralKey) {
    console.warn(
      'warning: JWT_SECRET is not set, so tokens are signed with a random key for this run only (set JWT_SECRET, or drop --in-memory, to keep them valid across restarts)',
    );
  }
  const url = server.url;
  const store = process.env.DYNAMODB_ENDPOINT
    ? process.env.DYNAMODB_ENDPOINT
    : dataDir
      ? `embedded, kept in ${dataDir} (npm start -- --in-memory keeps nothing)`
      : 'embedded, in memory (gone when the server stops)';
  const key = process.env.JWT_SECRET
    ? 'JWT_SECRET'
    : server.keyRingStored
      ? `the ring put by npm run secret:init / secret:rotate -- --local, kept in ${server.keyFile}`
      : server.keyFile
        ? `generated once, kept in ${server.keyFile} (local use only)`
        : 'random, for this run only';
  console.log(`auth service listening on ${url}
demo page: ${localPageUrl(new URL(url).port)}/ (sign up, log in and watch the client refresh; a short ACCESS_TOKEN_TTL shows it sooner)
store: ${store}
signing key: ${key}
DYNAMODB_ENDPOINT=${server.dynamoDbEndpoint}
  (administration: DYNAMODB_ENDPOINT=${server.dynamoDbEndpoint} npm run admin -- users)
AWS_ENDPOINT_URL_SSM=${server.ssm.url}
  (key rotation rehearsal: ${dataDir ? '' : `AWS_ENDPOINT_URL_SSM=${server.ssm.url} `}npm run secret:rotate -- --local)

try it (the README's walk-through):
${walkThrough(url)
  .map((line) => `  ${line}`)
  .join('\n')}

Ctrl-C stops it.`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping...');
    // Closing the store lets LevelDB finish its writes and release its lock on the data directory.
    await server.close();
    process.exit(0);
  };
  // `npm start` runs this with `exec` (package.json), so the signals npm forwards reach this process.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
}

main().catch((error: unknown) => {
  console.error('could not start the local server:', error instanceof Error ? error.message : error);
  process.exit(1);
});
