import type { APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { lambdaContext } from '../infra/local/events.ts';
import type { LocalServer } from '../infra/local/server.ts';
import { nowSeconds } from '../lib/config.ts';
import { defaultServices } from '../lib/services.ts';
import { verifyToken } from '../lib/tokens/jwt.ts';
import { audienceOf } from '../lib/tokens/pair.ts';
import { stepUpQualifier } from '../lib/tokens/step-up.ts';
import { compare, cpuNsPerAsyncCall, fmtNs, fmtRatio, median, nsPerAsyncCall, type Row } from './measure.ts';

/** The authorizer handler's own CPU per request may be this many times the least any authorizer does. */
const STUBBED_CPU_BUDGET = 2;

/**
 * The authorizer, warm, through its real handler, against the least it could do: our verify plus its one
 * consistent read (the session and its account, one `BatchGetItem`), on the same client, in the same run. Two ways:
 *
 * - **CPU per request with the store stubbed** (budgeted): the session read is answered by a middleware at the
 *   top of the functions' own DynamoDB client with the output a real read gave, so what is measured is the
 *   handler, middy, Powertools, the key cache, the verify and our code, not the network or the store. CPU time
 *   (`process.cpuUsage`), because nothing waits on I/O and CPU time does not count the neighbours' turns.
 * - **wall time against the in-process store** (for information): the figure a caller sees on loopback, which
 *   the BatchGetItem round trip (SDK marshalling, HTTP, dynalite) dominates.
 */
export async function benchAuthorizer(server: LocalServer): Promise<Row[]> {
  const handler = server.handlers.authorizer;
  const context = lambdaContext('authorizer');
  const services = defaultServices();
  const username = `bench-authz-${Date.now()}`;
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
  const viaHandler = async () => {
    const result = await handler(event, context);
    if (!result.principalId) throw new Error('authorizer refused a valid token');
  };
  // The same, invoked through a step-up alias (a route with `maxAuthAge`): the rules are judged on every call.
  const stepUpContext = lambdaContext('authorizer', stepUpQualifier({ maxAuthAge: 900 }));
  const viaStepUp = async () => {
    const result = await handler(event, stepUpContext);
    if (result.policyDocument.Statement[0]?.Effect !== 'Allow')
      throw new Error('step-up refused a fresh login');
  };
  const floor = async () => {
    const ring = await services.keys.getKeyRing();
    const { claims } = verifyToken(ring, 'access', accessToken, audienceOf(services.config), nowSeconds());
    // The authorizer's one request: the session and its account (whole-user revocation) in one BatchGetItem.
    const { session } = await services.sessions.getSessionWithAccount(claims.sid, claims.sub);
    if (!session) throw new Error('no session');
  };

  // The store stub: what a real consistent BatchGetItem of the session and account answered, handed back unsent.
  let stubbed = false;
  let answer: unknown;
  services.db.middlewareStack.add(
    (next, ctx) => async (args) => {
      if (!/^BatchGet(Item)?Command$/.test(String(ctx.commandName))) return next(args);
      if (stubbed && answer) return answer as Awaited<ReturnType<typeof next>>;
      const result = await next(args);
      answer = result;
      return result;
    },
    { step: 'initialize', name: 'bench-store-stub', priority: 'high' },
  );
  try {
    // dynalite and the SDK take a while to settle: warm both paths well before timing.
    for (let i = 0; i < 200; i += 1) {
      await viaHandler();
      await floor();
    }
    const wall = await compare(
      () => nsPerAsyncCall(viaHandler, 20),
      () => nsPerAsyncCall(floor, 20),
      11,
    );
    const withStore: number[] = [];
    for (let i = 0; i < 5; i += 1) withStore.push(await cpuNsPerAsyncCall(floor, 20));
    const floorCpuWithStore = median(withStore);
    stubbed = true;
    for (let i = 0; i < 500; i += 1) {
      await viaHandler();
      await floor();
    }
    const cpu = await compare(
      () => cpuNsPerAsyncCall(viaHandler, 200),
      () => cpuNsPerAsyncCall(floor, 200),
      15,
    );
    for (let i = 0; i < 200; i += 1) await viaStepUp();
    const stepUpCpu = await compare(
      () => cpuNsPerAsyncCall(viaStepUp, 200),
      () => cpuNsPerAsyncCall(floor, 200),
      15,
    );
    if (!answer) throw new Error('the store stub never saw a session read');
    return [
      {
        figure: 'authorizer CPU per request, store stubbed / (verify + stubbed read)',
        value: `${fmtRatio(cpu.ratio)} (${fmtNs(cpu.subject)} vs ${fmtNs(cpu.baseline)} CPU)`,
        budget: `<= ${fmtRatio(STUBBED_CPU_BUDGET)}`,
        met: cpu.ratio <= STUBBED_CPU_BUDGET,
      },
      {
        figure:
          'authorizer CPU per request with step-up rules (maxAuthAge) judged, store stubbed / (verify + stubbed read)',
        value: `${fmtRatio(stepUpCpu.ratio)} (${fmtNs(stepUpCpu.subject)} vs ${fmtNs(stepUpCpu.baseline)} CPU)`,
        budget: `<= ${fmtRatio(STUBBED_CPU_BUDGET)}`,
        met: stepUpCpu.ratio <= STUBBED_CPU_BUDGET,
      },
      {
        figure:
          'CPU of one session+account BatchGetItem on loopback (SDK and in-process store), by difference',
        value: fmtNs(Math.max(0, floorCpuWithStore - cpu.baseline)),
        budget: '-',
        met: undefined,
      },
      {
        figure: 'authorizer per request, loopback store / (verify + BatchGetItem), wall',
        value: `${fmtRatio(wall.ratio)} (${fmtNs(wall.subject)} vs ${fmtNs(wall.baseline)})`,
        budget: '-',
        met: undefined,
      },
    ];
  } finally {
    services.db.middlewareStack.remove('bench-store-stub');
  }
}
