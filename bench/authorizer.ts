import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { lambdaContext } from '../infra/local/events.ts';
import type { LocalServer } from '../infra/local/server.ts';
import { authorizerServices } from '../lib/authorizer-services.ts';
import { nowSeconds } from '../lib/config.ts';
import { authorize } from '../lib/operations/authorize.ts';
import { defaultServices } from '../lib/services.ts';
import { nodeTransport, type Transport } from '../lib/store/dynamodb-http.ts';
import { verifyToken } from '../lib/tokens/jwt.ts';
import { audienceOf } from '../lib/tokens/pair.ts';
import { stepUpQualifier } from '../lib/tokens/step-up.ts';
import { compare, cpuNsPerAsyncCall, fmtNs, fmtRatio, median, type Row } from './measure.ts';

/**
 * The authorizer handler's CPU per request may be at most this fraction of a minimal authorizer's (our verify,
 * one SDK `GetItem`, a policy): the SDK is what the authorizer spent most of its time in.
 */
const CPU_BUDGET = 0.8;

/** What the SDK's `requestHandler` must do: answer one HTTP request. */
interface SdkRequestHandler {
  handle(request: { headers: Record<string, string> }): Promise<{ response: unknown }>;
}

/** A recorded answer of the store: status, headers and body bytes, by the operation (`x-amz-target`) asked. */
type Recorded = Map<string, { status: number; headers: Record<string, string>; body: Buffer }>;

const targetOf = (headers: Record<string, string>) =>
  Object.entries(headers).find(([name]) => name.toLowerCase() === 'x-amz-target')?.[1] ?? '';

/**
 * The SDK's transport, answering every request with the bytes a real store gave for that operation: the SDK
 * does all its own work (serialising, endpoint resolution, signing, retry bookkeeping, parsing) but the socket.
 */
function sdkReplay(recorded: Recorded): SdkRequestHandler {
  return {
    async handle(request) {
      const answer = recorded.get(targetOf(request.headers));
      if (!answer) throw new Error(`nothing recorded for ${targetOf(request.headers)}`);
      return {
        response: {
          statusCode: answer.status,
          headers: answer.headers,
          body: Readable.from([answer.body]),
        },
      };
    },
  };
}

/** The authorizer client's transport, answering as {@link sdkReplay} does. */
const httpReplay =
  (recorded: Recorded): Transport =>
  async (request) => {
    const answer = recorded.get(targetOf(request.headers));
    if (!answer) throw new Error(`nothing recorded for ${targetOf(request.headers)}`);
    return { status: answer.status, body: answer.body.toString('utf8') };
  };

/** Sends a request over the real transport and keeps what the store answered. */
const recording =
  (recorded: Recorded): Transport =>
  async (request) => {
    const answer = await nodeTransport(request);
    recorded.set(targetOf(request.headers), {
      status: answer.status,
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: Buffer.from(answer.body),
    });
    return answer;
  };

/**
 * The authorizer, warm, through its real handler, with DynamoDB stubbed at the transport (the innermost step:
 * every client does all its work but the socket, and is answered with the bytes the in-process store gave),
 * against a minimal authorizer in the same run: our verify, one consistent `GetItem` through the SDK's
 * document client (stubbed the same way), and the policy. CPU time (`process.cpuUsage`), alternating rounds.
 *
 * Also printed, for where the time goes: the verify alone, the session read alone (the authorizer's client,
 * and the SDK `BatchGetItem` it replaced), and the rest of the handler (middy, Powertools, the policy).
 */
export async function benchAuthorizer(server: LocalServer, algorithm = 'HS256'): Promise<Row[]> {
  const handler = server.handlers.authorizer;
  const context = lambdaContext('authorizer');
  const services = authorizerServices();
  const sdkServices = defaultServices();
  const username = `bench-authz-${algorithm.toLowerCase()}-${Date.now()}`;
  const password = 'correct horse battery staple';
  const post = async (path: string, body: unknown) =>
    JSON.parse(
      (
        await server.gateway.handle({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).body,
    );
  await post('/auth/register', { username, password });
  const { accessToken } = (await post('/auth/login', { username, password })) as { accessToken: string };
  const event: APIGatewayTokenAuthorizerEvent = {
    type: 'TOKEN',
    authorizationToken: `Bearer ${accessToken}`,
    methodArn: 'arn:aws:execute-api:local:000000000000:local/local/GET/me',
  };
  const ring = await services.keys.getKeyRing();
  const audience = audienceOf(services.config);
  const claims = verifyToken(ring, 'access', accessToken, audience, nowSeconds()).claims;

  // What the in-process store answers, recorded once per operation through the authorizer client's transport.
  const recorded: Recorded = new Map();
  const realTransport = services.db.transport;
  services.db.transport = recording(recorded);
  await services.sessions.getSessionWithAccount(claims.sid, claims.sub);
  const { DynamoDbHttpClient } = await import('../lib/store/dynamodb-http.ts');
  await new DynamoDbHttpClient(process.env, { transport: recording(recorded) }).send('GetItem', {
    TableName: services.config.tableName,
    Key: { pk: { S: `session#${claims.sid}` } },
    ConsistentRead: true,
  });

  // The minimal authorizer: a client of its own, as a function doing only this would have.
  const minimalDb = DynamoDBDocumentClient.from(
    new DynamoDBClient({ maxAttempts: 3, requestHandler: sdkReplay(recorded) as never }),
  );
  const policy = (principalId: string): APIGatewayAuthorizerResult => ({
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
    },
  });
  const minimal = async () => {
    const { claims: verified } = verifyToken(ring, 'access', accessToken, audience, nowSeconds());
    const { Item } = await minimalDb.send(
      new GetCommand({
        TableName: services.config.tableName,
        Key: { pk: `session#${verified.sid}` },
        ConsistentRead: true,
      }),
    );
    if (!Item) throw new Error('no session');
    return policy(verified.sub);
  };
  const viaHandler = async () => {
    const result = await handler(event, context);
    if (!result.principalId) throw new Error('authorizer refused a valid token');
  };
  // The same, invoked through a step-up alias (a route with `maxAuthAge`): the rules judged on every call.
  const stepUpContext = lambdaContext('authorizer', stepUpQualifier({ maxAuthAge: 900 }));
  const viaStepUp = async () => {
    const result = (await handler(event, stepUpContext)) as APIGatewayAuthorizerResult;
    if (result.policyDocument.Statement[0]?.Effect !== 'Allow')
      throw new Error('step-up refused a fresh login');
  };
  const verifyOnly = async () => verifyToken(ring, 'access', accessToken, audience, nowSeconds());
  const readOnly = () => services.sessions.getSessionWithAccount(claims.sid, claims.sub);
  // The previous authorizer's path: the same operation over the functions' SDK client, stubbed the same way.
  const sdkConfig = (sdkServices.db as unknown as { config: { requestHandler: unknown } }).config;
  const realSdkHandler = sdkConfig.requestHandler;
  const viaSdk = async () => policy((await authorize(sdkServices, accessToken)).userId);
  const sdkReadOnly = () => sdkServices.sessions.getSessionWithAccount(claims.sid, claims.sub);

  services.db.transport = httpReplay(recorded);
  sdkConfig.requestHandler = sdkReplay(recorded);
  try {
    for (let i = 0; i < 500; i += 1) {
      await viaHandler();
      await minimal();
      await viaSdk();
    }
    const cpu = await compare(
      () => cpuNsPerAsyncCall(viaHandler, 200),
      () => cpuNsPerAsyncCall(minimal, 200),
      15,
    );
    for (let i = 0; i < 200; i += 1) await viaStepUp();
    const stepUp = await compare(
      () => cpuNsPerAsyncCall(viaStepUp, 200),
      () => cpuNsPerAsyncCall(minimal, 200),
      9,
    );
    const previous = await compare(
      () => cpuNsPerAsyncCall(viaSdk, 200),
      () => cpuNsPerAsyncCall(minimal, 200),
      9,
    );
    // The split, in alternating rounds too: the handler, the verify alone and the session read alone, back to back.
    const totals: number[] = [];
    const verifies: number[] = [];
    const reads: number[] = [];
    const sdkReads: number[] = [];
    for (let round = 0; round < 9; round += 1) {
      totals.push(await cpuNsPerAsyncCall(viaHandler, 200));
      verifies.push(await cpuNsPerAsyncCall(verifyOnly, 200));
      reads.push(await cpuNsPerAsyncCall(readOnly, 200));
      sdkReads.push(await cpuNsPerAsyncCall(sdkReadOnly, 200));
    }
    const totalNs = median(totals);
    const verifyNs = median(verifies);
    const readNs = median(reads);
    const sdkReadNs = median(sdkReads);
    const label = `(${algorithm})`;
    const share = (ns: number) => `${((100 * ns) / totalNs).toFixed(0)}%`;
    return [
      {
        figure: `authorizer CPU per request, DynamoDB stubbed at the transport / minimal SDK authorizer ${label}`,
        value: `${fmtRatio(cpu.ratio)} (${fmtNs(cpu.subject)} vs ${fmtNs(cpu.baseline)} CPU)`,
        budget: `<= ${fmtRatio(CPU_BUDGET)}`,
        met: cpu.ratio <= CPU_BUDGET,
      },
      {
        figure: `authorizer CPU per request with step-up rules (maxAuthAge) judged / minimal SDK authorizer ${label}`,
        value: `${fmtRatio(stepUp.ratio)} (${fmtNs(stepUp.subject)} vs ${fmtNs(stepUp.baseline)} CPU)`,
        budget: `<= ${fmtRatio(CPU_BUDGET)}`,
        met: stepUp.ratio <= CPU_BUDGET,
      },
      {
        figure: `authorizer CPU split ${label}: verify / session read (its client) / the rest`,
        value: `${fmtNs(verifyNs)} (${share(verifyNs)}) / ${fmtNs(readNs)} (${share(readNs)}) / ${fmtNs(Math.max(0, totalNs - verifyNs - readNs))} of ${fmtNs(totalNs)}`,
        budget: '-',
        met: undefined,
      },
      {
        figure: `the same authorizer over the SDK's BatchGetItem (the previous client) / minimal SDK authorizer ${label}`,
        value: `${fmtRatio(previous.ratio)} (${fmtNs(previous.subject)} CPU; its session read ${fmtNs(sdkReadNs)})`,
        budget: '-',
        met: undefined,
      },
    ];
  } finally {
    services.db.transport = realTransport;
    sdkConfig.requestHandler = realSdkHandler;
  }
}
