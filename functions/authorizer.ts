import middy from '@middy/core';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
  APIGatewayTokenAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { authorizerServices } from '../lib/authorizer-services.ts';
import { nowSeconds } from '../lib/config.ts';
import { isRefusal } from '../lib/errors.ts';
import { bearerToken, headerValue } from '../lib/http/input.ts';
import { describeError, logEvent } from '../lib/observability/log.ts';
import { countMetric, metricNames, observability } from '../lib/observability/metrics.ts';
import { authorize, type Principal } from '../lib/operations/authorize.ts';
import { STEP_UP_ERROR, stepUpChallenge, stepUpRulesOf, stepUpShortfall } from '../lib/tokens/step-up.ts';

// Not the SDK: the authorizer's own services read the session with one signed request (lib/authorizer-services.ts).
const services = authorizerServices();

// Cold start: read and parse the key ring during init (full CPU on Lambda, and before the first call waits
// on it) rather than on the first call. This await never throws: with SSM down the init still completes, and
// each call then tries again and refuses on failure, as it would for a warm function (API.md: no allow on an
// error, never a crashed init).
await services.keys.getKeyRing().then(
  () => undefined,
  (error: unknown) => logEvent('warn', 'key ring not loaded at init', describeError(error)),
);

type AuthorizerEvent =
  | APIGatewayTokenAuthorizerEvent
  | APIGatewayRequestAuthorizerEvent
  | APIGatewayRequestAuthorizerEventV2;
/**
 * The authorizer's context (API.md): string values only, as API Gateway requires; `roles` and `amr`
 * comma-separated, `authTime` epoch seconds.
 */
type PrincipalContext = {
  userId: string;
  username: string;
  sessionId: string;
  roles: string;
  amr: string;
  authTime: string;
};

const isHttpApiEvent = (event: AuthorizerEvent): event is APIGatewayRequestAuthorizerEventV2 =>
  (event as { version?: string }).version === '2.0';

function tokenOf(event: AuthorizerEvent): string | undefined {
  if (event.type === 'TOKEN') return bearerToken(event.authorizationToken);
  return bearerToken(headerValue(event.headers, 'authorization'));
}

/**
 * The policy covers every method and path of the stage, not just this request's: with result caching on, one
 * cached answer serves all the routes the token may call.
 */
function stageWildcard(methodArn: string): string {
  // arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<method>/<path...>
  const [apiArn, stage] = methodArn.split('/');
  return `${apiArn}/${stage}/*`;
}

const toContext = (principal: Principal): PrincipalContext => ({
  userId: principal.userId,
  username: principal.username,
  sessionId: principal.sessionId,
  // Role names never contain a comma (ROLE_PATTERN), so the list survives the join.
  roles: principal.roles.join(','),
  // RFC 8176 values are short tokens without commas.
  amr: principal.amr.join(','),
  authTime: String(principal.authTime),
});

/** The context of a step-up refusal: what the REST API's `ACCESS_DENIED` gateway response maps into its 401. */
type StepUpContext = { error: typeof STEP_UP_ERROR; wwwAuthenticate: string };

/**
 * The decision of the Lambda authorizer for REST APIs (TOKEN and REQUEST) and HTTP APIs (payload 2.0, simple responses).
 * Any failure, including a fault of DynamoDB or SSM, refuses: REST gets `Error('Unauthorized')` (401),
 * HTTP APIs `{isAuthorized: false}`. Never allows on an error.
 *
 * Step-up (RFC 9470): invoked through an alias that names rules (`lib/tokens/step-up.ts`), a live session whose
 * login falls short of them is refused with a Deny policy for this method whose context carries the
 * `WWW-Authenticate` challenge; the API's `ACCESS_DENIED` gateway response turns it into a 401 with that header.
 * An HTTP API can only answer its own 403 (`isAuthorized: false`): it has no gateway responses to carry the
 * challenge. The rules are judged on the token's claims: still one DynamoDB request.
 */
async function authorizeEvent(
  event: AuthorizerEvent,
  context: Pick<Context, 'invokedFunctionArn'>,
): Promise<
  | APIGatewayAuthorizerResult
  | APIGatewaySimpleAuthorizerWithContextResult<PrincipalContext | StepUpContext | Record<string, never>>
> {
  let principal: Principal;
  try {
    principal = await authorize(services, tokenOf(event));
  } catch (error) {
    countMetric(metricNames.authorizerDenial);
    // A refusal (the token or its session) is routine; anything else is a fault worth an error line. Both refuse.
    logEvent(isRefusal(error) ? 'info' : 'error', 'authorizer refused', describeError(error));
    if (isHttpApiEvent(event)) return { isAuthorized: false, context: {} };
    throw new Error('Unauthorized');
  }
  const rules = stepUpRulesOf(context.invokedFunctionArn);
  const shortfall = rules && stepUpShortfall(principal, rules, nowSeconds());
  if (shortfall) {
    countMetric(metricNames.authorizerDenial);
    logEvent('info', 'authorizer asked for step-up', { sessionId: principal.sessionId, ...rules });
    const refusal: StepUpContext = { error: STEP_UP_ERROR, wwwAuthenticate: stepUpChallenge(shortfall) };
    if (isHttpApiEvent(event)) return { isAuthorized: false, context: refusal };
    return {
      principalId: principal.userId,
      // This method only: a Deny is never cached for other routes.
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: event.methodArn }],
      },
      context: refusal,
    };
  }
  if (isHttpApiEvent(event)) return { isAuthorized: true, context: toContext(principal) };
  return {
    principalId: principal.userId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: stageWildcard(event.methodArn) },
      ],
    },
    context: toContext(principal),
  };
}

/** The Lambda entry point: {@link authorizeEvent} with the Lambda context on its log lines and its metrics. */
export const handler = middy(authorizeEvent).use(observability());
