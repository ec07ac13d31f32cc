import { Readable } from 'node:stream';
import { localDynamoClient } from '../infra/local/dynamo.ts';
import type { LocalServer } from '../infra/local/server.ts';
import { authorizerServices } from '../lib/authorizer-services.ts';
import { defaultServices } from '../lib/services.ts';
import type { Transport } from '../lib/store/dynamodb-http.ts';
import { cpuMicros, median, type Row } from './measure.ts';
import { countRequests, observe, operationOf } from './request-counter.ts';
import { countWriteUnits } from './write-units.ts';

interface SdkResponse {
  response: { statusCode: number; headers: Record<string, string>; body: unknown };
}
interface SdkHandler {
  handle(request: unknown, options?: unknown): Promise<SdkResponse>;
}

/**
 * CPU milliseconds per call of `run` with the store's own work left out (it runs in this process): one call
 * records what each client's transport got back, in order; the timed calls are answered with those same bytes
 * in the same order, so every client does all its work but the socket, and the store none.
 */
async function cpuMsWithoutTheStore(run: () => Promise<unknown>, iterations: number): Promise<number> {
  const sdkConfig = (defaultServices().db as unknown as { config: { requestHandler: SdkHandler } }).config;
  const http = authorizerServices().db;
  const realSdk = sdkConfig.requestHandler;
  const realHttp = http.transport;
  const sdkAnswers: { statusCode: number; headers: Record<string, string>; body: Buffer }[] = [];
  const httpAnswers: { status: number; body: string }[] = [];
  sdkConfig.requestHandler = {
    async handle(request, options) {
      const { response } = await realSdk.handle(request, options);
      const chunks: Buffer[] = [];
      for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
      const body = Buffer.concat(chunks);
      sdkAnswers.push({ statusCode: response.statusCode, headers: response.headers, body });
      return { response: { ...response, body: Readable.from([body]) } };
    },
  };
  http.transport = async (request) => {
    const answer = await realHttp(request);
    httpAnswers.push(answer);
    return answer;
  };
  try {
    await run();
    let sdkAt = 0;
    let httpAt = 0;
    sdkConfig.requestHandler = {
      async handle() {
        const answer = sdkAnswers[sdkAt++ % sdkAnswers.length];
        if (!answer) throw new Error('nothing recorded');
        return { response: { ...answer, body: Readable.from([answer.body]) } };
      },
    };
    const replay: Transport = async () => {
      const answer = httpAnswers[httpAt++ % httpAnswers.length];
      if (!answer) throw new Error('nothing recorded');
      return answer;
    };
    http.transport = replay;
    for (let i = 0; i < iterations; i += 1) await run();
    const rounds: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      sdkAt = 0;
      httpAt = 0;
      const before = cpuMicros();
      for (let i = 0; i < iterations; i += 1) await run();
      rounds.push((cpuMicros() - before) / 1000 / iterations);
    }
    return median(rounds);
  } finally {
    sdkConfig.requestHandler = realSdk;
    http.transport = realHttp;
  }
}

/**
 * The prices the cost table uses: US East (N. Virginia), on-demand, no free tier, first volume tier. One dated
 * table: when a price changes, change it here (and the README's copy of the table, printed by `npm run bench`).
 *
 * Read on 2026-12-02 from (through the `search` tool's stored copies of these pages and of transcriptions of
 * them): https://aws.amazon.com/api-gateway/pricing/, https://aws.amazon.com/lambda/pricing/,
 * https://aws.amazon.com/dynamodb/pricing/on-demand/, https://aws.amazon.com/cognito/pricing/.
 */
export const PRICES = {
  readOn: '2026-12-02',
  region: 'us-east-1',
  /** API Gateway REST API, per million requests (first 333 million a month). */
  restApiPerMillion: 3.5,
  /** API Gateway HTTP API, per million requests (first 300 million a month, up to 512 KB each). */
  httpApiPerMillion: 1.0,
  /** Lambda, per million invocations. */
  lambdaPerMillion: 0.2,
  /** Lambda arm64, per GB-second (first 7.5 billion GB-s a month). */
  lambdaArmPerGbSecond: 0.0000133334,
  /** DynamoDB on-demand (Standard table class), per million write request units (1 KB each). */
  dynamoDbPerMillionWrites: 0.625,
  /** DynamoDB on-demand, per million read request units (a strongly consistent read of up to 4 KB). */
  dynamoDbPerMillionReads: 0.125,
  /** Cognito user pools, per monthly active user above the 10,000 free: Lite (10,001-100,000) and Essentials. */
  cognitoLitePerMau: 0.0055,
  cognitoEssentialsPerMau: 0.015,
} as const;

/**
 * Assumptions of the model, named: what a Lambda waits on each DynamoDB request in-region (milliseconds); the
 * memory at which a Lambda function has one whole vCPU (the CPU time measured here is stretched by
 * `FULL_VCPU_MB / memory` below it); a month of 30 days; a monthly active user making 10 API calls a day, each
 * in a visit of its own (so each refreshes its access token once: 10-minute access tokens) and logging in once
 * a month (the refresh token, rotated daily, keeps the session for `SESSION_MAX_AGE`).
 */
const DYNAMODB_ROUND_TRIP_MS = 4;
const FULL_VCPU_MB = 1769;
const CALLS_PER_DAY = 10;
const DAYS = 30;
const LOGINS_PER_MONTH = 1;

/** The memory each measured function is deployed with (infra/cdk/functions.ts's profiles). */
const MEMORY_MB = { authorizer: 256, refresh: 256, login: 1024 } as const;

interface FlowCost {
  name: keyof typeof MEMORY_MB;
  /** CPU milliseconds per call, measured in this process. */
  cpuMs: number;
  requests: number;
  readUnits: number;
  writeUnits: number;
}

const usd = (value: number) => (value >= 0.1 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`);

/** Dollars per million calls of `flow` behind an API of `apiPerMillion`: API Gateway, Lambda, DynamoDB. */
function perMillion(flow: FlowCost, apiPerMillion: number) {
  const memory = MEMORY_MB[flow.name];
  const billedMs = Math.ceil(
    flow.cpuMs * Math.max(1, FULL_VCPU_MB / memory) + flow.requests * DYNAMODB_ROUND_TRIP_MS,
  );
  const lambda =
    PRICES.lambdaPerMillion + (memory / 1024) * (billedMs / 1000) * PRICES.lambdaArmPerGbSecond * 1e6;
  const dynamo =
    flow.readUnits * PRICES.dynamoDbPerMillionReads + flow.writeUnits * PRICES.dynamoDbPerMillionWrites;
  return { api: apiPerMillion, lambda, dynamo, total: apiPerMillion + lambda + dynamo, billedMs };
}

/**
 * Measures the three flows a user's month is made of (an authorization, a refresh, a login): CPU per call in
 * this process without the store's (`cpuMsWithoutTheStore`), the DynamoDB requests, read units (a strongly consistent read of an item up to 4 KB is one;
 * a `BatchGetItem` one per key) and write units (table and index, `countWriteUnits`) each sends.
 */
async function measureFlows(server: LocalServer): Promise<FlowCost[]> {
  const clients = [defaultServices().db, authorizerServices().db];
  const counter = countRequests(clients, 'bench-costs-counter');
  let readUnits = 0;
  observe(clients).add(
    (next, context) => async (args) => {
      const operation = operationOf(context.commandName);
      const input = args.input as { RequestItems?: Record<string, { Keys?: unknown[] }> };
      if (operation === 'BatchGetItem')
        for (const request of Object.values(input.RequestItems ?? {})) readUnits += request.Keys?.length ?? 0;
      else if (operation === 'GetItem' || operation === 'Query') readUnits += 1;
      return next(args);
    },
    { step: 'initialize', name: 'bench-costs-reads' },
  );
  const raw = localDynamoClient(server.dynamoDbEndpoint);
  const units = countWriteUnits(
    defaultServices().db,
    raw,
    defaultServices().config.tableName,
    'bench-costs-writes',
  );
  const call = async (path: string, body: unknown) => {
    const answer = await server.gateway.handle({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (answer.status >= 300) throw new Error(`${path} answered ${answer.status}`);
    return JSON.parse(answer.body) as { accessToken: string; refreshToken: string };
  };
  const username = `bench-costs-${Date.now().toString(36)}`;
  const password = 'correct horse battery staple';
  await call('/auth/register', { username, password });
  let tokens = await call('/auth/login', { username, password });
  const event = () => ({
    type: 'TOKEN' as const,
    authorizationToken: `Bearer ${tokens.accessToken}`,
    methodArn: 'arn:aws:execute-api:local:000000000000:local/local/GET/me',
  });
  const context = {
    functionName: 'authorizer',
    awsRequestId: 'bench',
    getRemainingTimeInMillis: () => 10000,
  };
  const flows: Record<keyof typeof MEMORY_MB, () => Promise<unknown>> = {
    authorizer: () => server.handlers.authorizer(event(), context as never),
    refresh: async () => {
      tokens = await call('/auth/refresh', { refreshToken: tokens.refreshToken });
    },
    login: async () => {
      tokens = await call('/auth/login', { username, password });
    },
  };
  const results: FlowCost[] = [];
  try {
    for (const [name, run] of Object.entries(flows) as [keyof typeof MEMORY_MB, () => Promise<unknown>][]) {
      await run();
      counter.reset();
      units.reset();
      readUnits = 0;
      await run();
      const requests = counter.sent.length;
      const reads = readUnits;
      const { table, index } = units.units();
      // Replayed, a refresh presents the token the recorded read shows as current; a login hashes a password
      // at full strength (fewer rounds).
      const presented = tokens.refreshToken;
      const replayed = name === 'refresh' ? () => call('/auth/refresh', { refreshToken: presented }) : run;
      const cpuMs = await cpuMsWithoutTheStore(replayed, name === 'login' ? 3 : 100);
      results.push({ name, cpuMs, requests, readUnits: reads, writeUnits: table + index });
    }
  } finally {
    counter.remove();
    units.remove();
    observe(clients).remove('bench-costs-reads');
    raw.destroy();
  }
  return results;
}

/**
 * The cost table (informational rows): dollars per million authorizations, refreshes and logins on a REST API
 * and on an HTTP API (`httpAuthorizerFor`), and per monthly active user, beside Cognito (Lite, Essentials) with
 * the HTTP API's native JWT authorizer, and this service's tokens checked by that native authorizer (no
 * revocation: a logged-out access token works until it expires). Prices: {@link PRICES}.
 */
export async function benchCosts(server: LocalServer): Promise<Row[]> {
  const flows = await measureFlows(server);
  const rows: Row[] = [];
  const info = (figure: string, value: string): Row => ({ figure, value, budget: '-', met: undefined });
  const byName = Object.fromEntries(flows.map((flow) => [flow.name, flow])) as Record<string, FlowCost>;
  for (const flow of flows) {
    const rest = perMillion(flow, PRICES.restApiPerMillion);
    const http = perMillion(flow, PRICES.httpApiPerMillion);
    rows.push(
      info(
        `cost per million ${flow.name === 'authorizer' ? 'authorizations' : `${flow.name}s`} (REST API / HTTP API; prices of ${PRICES.readOn})`,
        `${usd(rest.total)} / ${usd(http.total)} = API ${usd(rest.api)} / ${usd(http.api)} + Lambda ${usd(rest.lambda)} (${rest.billedMs} ms at ${MEMORY_MB[flow.name]} MB) + DynamoDB ${usd(rest.dynamo)} (${flow.readUnits} RRU + ${flow.writeUnits} WRU; ${flow.requests} requests, ${flow.cpuMs.toFixed(2)} ms CPU here)`,
      ),
    );
  }
  const calls = CALLS_PER_DAY * DAYS;
  // Refreshes and logins are calls of the service's own REST API (AuthApi), whatever API the consumer runs.
  const ownCalls =
    (calls * perMillion(byName.refresh as FlowCost, PRICES.restApiPerMillion).total +
      LOGINS_PER_MONTH * perMillion(byName.login as FlowCost, PRICES.restApiPerMillion).total) /
    1e6;
  const monthly = (apiPerMillion: number) =>
    (calls * perMillion(byName.authorizer as FlowCost, apiPerMillion).total) / 1e6 + ownCalls;
  // The native JWT authorizer: the consumer's API call alone (no Lambda, no read).
  const nativeJwt = (calls * PRICES.httpApiPerMillion) / 1e6 + ownCalls;
  const apiCalls = (calls * PRICES.httpApiPerMillion) / 1e6;
  rows.push(
    info(
      `cost per monthly active user (${CALLS_PER_DAY} calls a day, each refreshing once, ${LOGINS_PER_MONTH} login a month)`,
      [
        `this service on a REST API ${usd(monthly(PRICES.restApiPerMillion))}`,
        `on an HTTP API (httpAuthorizerFor) ${usd(monthly(PRICES.httpApiPerMillion))}`,
        `its tokens on the native HTTP API JWT authorizer (no revocation) ${usd(nativeJwt)}`,
        `Cognito Lite + JWT authorizer ${usd(PRICES.cognitoLitePerMau + apiCalls)}`,
        `Cognito Essentials + JWT authorizer ${usd(PRICES.cognitoEssentialsPerMau + apiCalls)}`,
      ].join('; '),
    ),
  );
  return rows;
}
