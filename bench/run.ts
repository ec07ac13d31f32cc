/**
 * `npm run bench`: every figure of issues 4 and 12 with its budget, as one table. Exits non-zero when a budget is not
 * met. Each figure is a ratio against a baseline measured in the same run (these machines are shared and
 * noisy), or a count; medians of several rounds throughout.
 */
import './quiet.ts';
import { startLocalServer } from '../infra/local/server.ts';
import { benchAuthorizer } from './authorizer.ts';
import { benchColdStart } from './cold-start.ts';
import { benchEs256InChild } from './es256.ts';
import { benchLoginCost } from './login-cost.ts';
import { printTable, type Row } from './measure.ts';
import { benchRequestsPerFlow } from './requests.ts';
import { benchThroughput } from './throughput.ts';
import { benchAsymmetricTokens, benchTokens } from './tokens.ts';

const rows: Row[] = [];
const section = async (name: string, run: () => Promise<Row[]>) => {
  const start = performance.now();
  process.stderr.write(`bench: ${name}...`);
  rows.push(...(await run()));
  process.stderr.write(` ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
};

await section('token verify and sign', benchTokens);
await section('ES256 and RS256 verify and sign', benchAsymmetricTokens);
await section('login cost', benchLoginCost);
const server = await startLocalServer({ jwtSecret: 'bench-signing-key-0123456789-0123456789-abcdef' });
try {
  await section('DynamoDB requests per flow', () => benchRequestsPerFlow(server));
  await section('authorizer per request', () => benchAuthorizer(server));
  await section('local server throughput', () => benchThroughput(server, { duration: 5, connections: 10 }));
} finally {
  await server.close();
}
await section('cold start', () => benchColdStart({ runs: 25 }));
// The ES256 authorizer, the JWKS endpoint and the authorizer's first answer, in a process of their own.
await section('ES256 mode', async () => benchEs256InChild());

console.log();
printTable(rows);
const failed = rows.filter((row) => row.met === false);
console.log(
  failed.length === 0
    ? `\nall ${rows.filter((row) => row.met).length} budgets met`
    : `\n${failed.length} budget(s) NOT met: ${failed.map((row) => row.figure).join('; ')}`,
);
process.exitCode = failed.length === 0 ? 0 : 1;
