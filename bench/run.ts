/**
 * `npm run bench`: every figure with its budget, as one table; exits non-zero when a budget is not met. Each
 * budget is a ratio against a baseline measured in the same run (these machines are shared and noisy), CPU
 * time where wall time would measure the neighbours, or a count; medians of several rounds throughout.
 *
 * `npm run bench -- --only authorizer,requests` runs some sections; `--functions login,login-mfa` limits the
 * cold-start section to those functions. To add a figure, add a section below
 * (a function returning `Row`s; `server` is the local service, shared by the sections that need one).
 */
import './quiet.ts';
import { parseArgs } from 'node:util';
import { type LocalServer, startLocalServer } from '../infra/local/server.ts';
import { type FunctionName, functionNames } from '../infra/routes.ts';
import { benchAuthorizer } from './authorizer.ts';
import { benchColdStart } from './cold-start.ts';
import { benchCosts } from './costs.ts';
import { benchAlgorithmInChild } from './es256.ts';
import { benchForgot } from './forgot.ts';
import { benchLoginCost } from './login-cost.ts';
import { printTable, type Row } from './measure.ts';
import { benchRequestsPerFlow } from './requests.ts';
import { benchThroughput } from './throughput.ts';
import { benchAsymmetricTokens, benchTokens } from './tokens.ts';

interface Section {
  name: string;
  title: string;
  run(server: LocalServer): Promise<Row[]>;
}

const sections: Section[] = [
  { name: 'tokens', title: 'token verify and sign', run: () => benchTokens() },
  {
    name: 'asymmetric-tokens',
    title: 'ES256 and RS256 verify and sign',
    run: () => benchAsymmetricTokens(),
  },
  { name: 'login-cost', title: 'login cost (argon2id CPU)', run: () => benchLoginCost() },
  { name: 'requests', title: 'DynamoDB requests per path', run: (server) => benchRequestsPerFlow(server) },
  { name: 'authorizer', title: 'authorizer per request', run: (server) => benchAuthorizer(server) },
  { name: 'costs', title: 'cost table', run: (server) => benchCosts(server) },
  {
    name: 'forgot',
    title: 'forgot password: known vs unknown address',
    run: (server) => benchForgot(server),
  },
  {
    name: 'throughput',
    title: 'local server throughput',
    run: (server) => benchThroughput(server, { duration: 5, connections: 10 }),
  },
  {
    name: 'cold-start',
    title: 'cold start',
    run: (server) => benchColdStart(server, { runs: 5, ...(coldStartOnly && { only: coldStartOnly }) }),
  },
  // The ES256 and RS256 authorizers, their session items, the JWKS endpoint and the authorizer's first answer,
  // each in a process of its own (the functions read their algorithm at import).
  { name: 'es256', title: 'ES256 mode', run: async () => benchAlgorithmInChild('ES256') },
  { name: 'rs256', title: 'RS256 mode', run: async () => benchAlgorithmInChild('RS256') },
];

const { values } = parseArgs({ options: { only: { type: 'string' }, functions: { type: 'string' } } });
const only = values.only?.split(',').map((name) => name.trim());
const requested = values.functions?.split(',').map((name) => name.trim());
const strangers = requested?.filter((name) => !(functionNames as readonly string[]).includes(name)) ?? [];
if (strangers.length > 0) {
  console.error(`unknown function(s) ${strangers.join(', ')}; known: ${functionNames.join(', ')}`);
  process.exit(2);
}
const coldStartOnly = requested as FunctionName[] | undefined;
const unknown = only?.filter((name) => !sections.some((section) => section.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown section(s) ${unknown.join(', ')}; known: ${sections.map((s) => s.name).join(', ')}`);
  process.exit(2);
}

const rows: Row[] = [];
const server = await startLocalServer({ jwtSecret: 'bench-signing-key-0123456789-0123456789-abcdef' });
try {
  for (const section of sections) {
    if (only && !only.includes(section.name)) continue;
    const start = performance.now();
    process.stderr.write(`bench: ${section.title}...`);
    rows.push(...(await section.run(server)));
    process.stderr.write(` ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
  }
} finally {
  await server.close();
}

console.log();
printTable(rows);
const failed = rows.filter((row) => row.met === false);
console.log(
  failed.length === 0
    ? `\nall ${rows.filter((row) => row.met).length} budgets met`
    : `\n${failed.length} budget(s) NOT met: ${failed.map((row) => row.figure).join('; ')}`,
);
process.exitCode = failed.length === 0 ? 0 : 1;
