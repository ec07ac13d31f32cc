import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { getDomain } from 'tldts';
import { errorCatalogue } from '../../lib/errors.ts';
import { ALLOWED_REQUEST_HEADERS, EXPOSED_HEADERS } from '../../lib/http/cors.ts';
import { type StepUpRules, stepUpQualifier } from '../../lib/tokens/step-up.ts';
import { type FunctionName, type Route, routes as serviceRoutes } from '../routes.ts';
import type { StackSettings } from './settings.ts';

/** The stage the API is deployed to (the last segment of the API URL). */
export const STAGE_NAME = 'v1';

/** The routes whose stage throttling is tighter: each request costs an argon2id hash. */
export const passwordRoutes: readonly { method: string; path: string }[] = [
  { method: 'POST', path: '/auth/login' },
  { method: 'POST', path: '/auth/register' },
  { method: 'POST', path: '/auth/password' },
  { method: 'DELETE', path: '/auth/account' },
];

/** One answer API Gateway gives itself, without calling a function. */
export interface GatewayResponseSpec {
  /** The construct id of the gateway response. */
  id: string;
  type: apigateway.ResponseType;
  statusCode: string;
  /** Extra headers, as API Gateway mapping expressions (a literal is in single quotes). */
  headers: Record<string, string>;
  /** The JSON body. */
  body: string;
}

/** Headers on every gateway response of the service, and on the 401/403 it adds to a consumer's API. */
export const gatewayResponseHeaders: Record<string, string> = {
  'Content-Type': "'application/json'",
  'Cache-Control': "'no-store'",
};

const catalogueBody = (code: keyof typeof errorCatalogue) =>
  JSON.stringify({ error: code, message: errorCatalogue[code].message });

/**
 * The authorizer's refusals with RFC 6750's `WWW-Authenticate: Bearer` challenge and API.md's bodies. A
 * thrown `Unauthorized` and a missing Authorization header (no identity source) are both the 401.
 *
 * The authorizer denies (rather than throws) only for step-up (RFC 9470): its Deny carries the whole challenge
 * in its context (`wwwAuthenticate`), which `ACCESS_DENIED` maps into a 401's `WWW-Authenticate` header:
 * `Bearer error="insufficient_user_authentication", error_description="…", max_age=…`.
 */
export const bearerChallengeResponses: readonly GatewayResponseSpec[] = [
  {
    id: 'Unauthorized',
    type: apigateway.ResponseType.UNAUTHORIZED,
    statusCode: '401',
    headers: { 'WWW-Authenticate': "'Bearer'" },
    body: '{"message":"Unauthorized"}',
  },
  {
    id: 'AccessDenied',
    type: apigateway.ResponseType.ACCESS_DENIED,
    statusCode: '401',
    headers: { 'WWW-Authenticate': 'context.authorizer.wwwAuthenticate' },
    body: '{"message":"Unauthorized"}',
  },
];

/**
 * The service API's other answers, in the service's `{error, message}` form, so a client parses every error
 * the same way.
 */
export const serviceGatewayResponses: readonly GatewayResponseSpec[] = [
  ...bearerChallengeResponses,
  // API Gateway's name for "no such route or method" (it answers 403 by default): 404, as the local server.
  {
    id: 'NotFound',
    type: apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
    statusCode: '404',
    headers: {},
    body: catalogueBody('not_found'),
  },
  {
    id: 'Throttled',
    type: apigateway.ResponseType.THROTTLED,
    statusCode: '429',
    headers: { 'Retry-After': "'1'" },
    body: JSON.stringify({
      error: 'too_many_attempts',
      message: 'Too many requests; slow down and try again.',
    }),
  },
  {
    id: 'TooLarge',
    type: apigateway.ResponseType.REQUEST_TOO_LARGE,
    statusCode: '413',
    headers: {},
    body: catalogueBody('payload_too_large'),
  },
  {
    id: 'Default5xx',
    type: apigateway.ResponseType.DEFAULT_5XX,
    statusCode: '503',
    headers: { 'Retry-After': "'1'" },
    body: catalogueBody('service_unavailable'),
  },
];

/**
 * The CORS headers of a gateway response for the allowed origins (none: no headers). They expose the same
 * headers as the functions' answers do (`Retry-After` of a 429 or 503, the 401's `WWW-Authenticate`): without
 * that, a browser on an allowed origin could not read them on the gateway's own answers.
 *
 * With one origin, that exact origin with `Access-Control-Allow-Credentials: true`, as the functions answer it:
 * a credentialed request (the cookie transport) that API Gateway answers itself (throttled, 5xx) is readable
 * too. A gateway response cannot choose among several origins (its headers are literals or request values,
 * with no condition): with several it echoes the caller's `Origin` and, since that would be any origin, allows
 * no credentials; the synth says so ({@link CORS_SEVERAL_ORIGINS_WARNING}). Its bodies are fixed sentences, so
 * no origin learns anything from reading them.
 */
export function corsResponseHeaders(corsOrigins: readonly string[]): Record<string, string> {
  if (corsOrigins.length === 0) return {};
  const expose = { 'Access-Control-Expose-Headers': `'${EXPOSED_HEADERS}'`, Vary: "'Origin'" };
  if (corsOrigins.length === 1) {
    return {
      'Access-Control-Allow-Origin': `'${corsOrigins[0]}'`,
      'Access-Control-Allow-Credentials': "'true'",
      ...expose,
    };
  }
  return { 'Access-Control-Allow-Origin': 'method.request.header.Origin', ...expose };
}

/** The synth-time warning ids of the browser-facing settings (see {@link browserSettingsWarnings}). */
export const CORS_SEVERAL_ORIGINS_WARNING = 'lambda-token-auth:corsSeveralOriginsGatewayResponses';
export const COOKIE_SITE_WARNING = 'lambda-token-auth:cookieTransportSite';

/**
 * What the synth warns about the browser-facing settings, as `[id, message]`:
 * - several `corsOrigins`: API Gateway's own answers cannot allow credentials (see {@link corsResponseHeaders});
 * - `corsOrigins` with the API on another site than an origin (no `apiDomainName`, or one whose registrable
 *   domain differs from the origin's): the cookie transport's `SameSite=Strict` cookie would never be sent
 *   from that origin (see `apiDomainName` in `settings.ts`).
 */
export function browserSettingsWarnings(
  settings: Pick<StackSettings, 'corsOrigins' | 'apiDomainName'>,
): [string, string][] {
  const warnings: [string, string][] = [];
  const { corsOrigins, apiDomainName } = settings;
  if (corsOrigins.length > 1) {
    warnings.push([
      CORS_SEVERAL_ORIGINS_WARNING,
      `With several corsOrigins (${corsOrigins.join(', ')}), API Gateway's own answers (throttling 429, 5xx, 413, 404, the authorizer's 401/403) echo the caller's Origin and so allow no credentials: a browser's credentialed request (the cookie transport) that gets one of them sees a network error instead of the status. The functions' answers are not affected. With one origin per API, those answers allow credentials too.`,
    ]);
  }
  if (corsOrigins.length === 0) return warnings;
  if (apiDomainName === undefined) {
    warnings.push([
      COOKIE_SITE_WARNING,
      `The cookie transport (X-Token-Transport: cookie) sets a SameSite=Strict cookie, which browsers send only to an API on the same site as the page: the stage URL (*.execute-api.amazonaws.com) is not on the site of ${corsOrigins.join(', ')}. Map a custom domain on the app's site to the stage (e.g. auth.example.com for https://app.example.com) and set apiDomainName to it; the body transport works as it is.`,
    ]);
    return warnings;
  }
  const apiSite = getDomain(apiDomainName);
  const elsewhere = corsOrigins.filter((origin) => getDomain(new URL(origin).hostname) !== apiSite);
  if (elsewhere.length > 0) {
    warnings.push([
      COOKIE_SITE_WARNING,
      `The cookie transport's SameSite=Strict cookie is not sent to ${apiDomainName} from ${elsewhere.join(', ')} (another site): from there only the body transport works. Serve the app on the API's site, or the API under a domain on the app's.`,
    ]);
  }
  return warnings;
}

/** Adds the given gateway responses to `api` (ids prefixed with `idPrefix`), with the common and CORS headers. */
export function addGatewayResponses(
  api: apigateway.IRestApi,
  responses: readonly GatewayResponseSpec[],
  corsOrigins: readonly string[],
  idPrefix = '',
): void {
  for (const response of responses) {
    // Scoped to the API (as RestApi.addGatewayResponse does), so each API's responses stay with it.
    new apigateway.GatewayResponse(api as unknown as Construct, `${idPrefix}${response.id}`, {
      restApi: api,
      type: response.type,
      statusCode: response.statusCode,
      responseHeaders: {
        ...gatewayResponseHeaders,
        ...response.headers,
        ...corsResponseHeaders(corsOrigins),
      },
      templates: { 'application/json': response.body },
    });
  }
}

export interface AuthApiProps {
  functions: Record<FunctionName, lambda.IFunction>;
  settings: StackSettings;
  /** Default `${stackName}-api`. */
  restApiName?: string;
  /** Default: the route table of infra/routes.ts. */
  routes?: readonly Route[];
}

/**
 * The service's REST API: one stage with access logs and throttling (tighter on the password routes), CORS
 * preflight for the configured origins, the TOKEN authorizer, one method per route of infra/routes.ts, and the
 * gateway responses of API.md.
 */
export class AuthApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly authorizer: apigateway.TokenAuthorizer;
  /** The stage's base URL, without a trailing slash: `${url}/auth/login`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: AuthApiProps) {
    super(scope, id);
    const { settings, functions } = props;
    const retention = settings.logRetentionDays as logs.RetentionDays;
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention,
      removalPolicy: settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const throttledMethods: Record<string, apigateway.MethodDeploymentOptions> = {};
    for (const { method, path } of passwordRoutes) {
      throttledMethods[`${path}/${method}`] = {
        throttlingRateLimit: settings.passwordRouteRateLimit,
        throttlingBurstLimit: settings.passwordRouteBurstLimit,
      };
    }
    const cors = settings.corsOrigins.length > 0;
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: props.restApiName ?? `${Stack.of(this).stackName}-api`,
      description: 'Auth service: login, refresh, logout, and routes behind the token authorizer',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // The account-wide CloudWatch role is an account setting, not this stack's to own (see the APIG6 note).
      cloudWatchRole: false,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: settings.apiRateLimit,
        throttlingBurstLimit: settings.apiBurstLimit,
        methodOptions: throttledMethods,
        // Access logs name who called what and how it went; never a header or a body, so never a token.
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigateway.AccessLogField.contextRequestId(),
            requestTime: apigateway.AccessLogField.contextRequestTime(),
            ip: apigateway.AccessLogField.contextIdentitySourceIp(),
            userAgent: apigateway.AccessLogField.contextIdentityUserAgent(),
            method: apigateway.AccessLogField.contextHttpMethod(),
            resourcePath: apigateway.AccessLogField.contextResourcePath(),
            status: apigateway.AccessLogField.contextStatus(),
            responseLength: apigateway.AccessLogField.contextResponseLength(),
            responseLatency: apigateway.AccessLogField.contextResponseLatency(),
            principalId: apigateway.AccessLogField.contextAuthorizerPrincipalId(),
            authorizerStatus: apigateway.AccessLogField.contextAuthorizerStatus(),
            error: apigateway.AccessLogField.contextErrorMessage(),
            errorType: apigateway.AccessLogField.contextErrorResponseType(),
          }),
        ),
        dataTraceEnabled: false,
      },
      ...(cors && {
        // Preflight answered by API Gateway itself; the functions add the CORS headers to real responses.
        defaultCorsPreflightOptions: {
          allowOrigins: settings.corsOrigins,
          // Every method of the route table (DELETE for /auth/sessions/{id} and /auth/account), and OPTIONS.
          allowMethods: [...new Set((props.routes ?? serviceRoutes).map((route) => route.method)), 'OPTIONS'],
          // X-Token-Transport: the cookie transport; credentials: its cookie (lib/http/cors.ts).
          allowHeaders: [...ALLOWED_REQUEST_HEADERS],
          allowCredentials: true,
          maxAge: Duration.hours(1),
        },
      }),
    });
    // RestApi adds an output of its own (`Endpoint`, the stage URL with a trailing slash); the stack's one output
    // is enough, and `${url}/auth/...` must not become `//auth`.
    this.api.node.tryRemoveChild('Endpoint');
    const stack = Stack.of(this);
    this.url = `https://${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${STAGE_NAME}`;

    this.authorizer = new apigateway.TokenAuthorizer(this, 'TokenAuthorizer', {
      handler: functions.authorizer,
      identitySource: apigateway.IdentitySource.header('Authorization'),
      resultsCacheTtl: Duration.seconds(settings.authorizerCacheTtlSeconds),
    });
    const stepUpAuthorizers = new Map<string, apigateway.IAuthorizer>();
    const authorizerOf = (rules: StepUpRules | undefined): apigateway.IAuthorizer => {
      const qualifier = stepUpQualifier(rules);
      if (!qualifier || !rules) return this.authorizer;
      let authorizer = stepUpAuthorizers.get(qualifier);
      if (!authorizer) {
        authorizer = new apigateway.TokenAuthorizer(this, `TokenAuthorizer${pascal(qualifier)}`, {
          handler: stepUpAlias(functions.authorizer, rules),
          identitySource: apigateway.IdentitySource.header('Authorization'),
          resultsCacheTtl: Duration.seconds(stepUpCacheTtl(rules, settings.authorizerCacheTtlSeconds)),
        });
        stepUpAuthorizers.set(qualifier, authorizer);
      }
      return authorizer;
    };

    const integrations = new Map<FunctionName, apigateway.LambdaIntegration>();
    for (const route of props.routes ?? serviceRoutes) {
      let integration = integrations.get(route.function);
      if (!integration) {
        // No test-invoke permission: only the deployed stage may call the functions.
        integration = new apigateway.LambdaIntegration(functions[route.function], { allowTestInvoke: false });
        integrations.set(route.function, integration);
      }
      const method = this.api.root.resourceForPath(route.path).addMethod(
        route.method,
        integration,
        route.authorized
          ? {
              authorizer: authorizerOf(route.stepUp),
              authorizationType: apigateway.AuthorizationType.CUSTOM,
            }
          : { authorizationType: apigateway.AuthorizationType.NONE },
      );
      if (!route.authorized) {
        const reason = route.path.startsWith('/auth/')
          ? `${route.method} ${route.path} is how a caller gets or gives up its tokens, so it cannot require one: the function itself verifies whatever token the route takes (API.md).`
          : `${route.method} ${route.path} is public by nature (a published document, or the page a mailed link opens): it takes no token and touches no account.`;
        Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason });
        Validations.of(method).acknowledge({ id: 'AwsSolutions-COG4', reason });
      } else {
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-COG4',
          reason:
            'This service is the token issuer; its own Lambda TOKEN authorizer (checked against the session store, so logout is immediate) guards the route instead of Cognito.',
        });
      }
    }
    // (The preflight OPTIONS methods need no acknowledgement: cdk-nag's APIG4/COG4 exempt them.)
    addGatewayResponses(this.api, serviceGatewayResponses, settings.corsOrigins);
    for (const [id, message] of browserSettingsWarnings(settings))
      Annotations.of(this).addWarningV2(id, message);
    this.acknowledgeFindings();
  }

  /** cdk-nag findings on the API as a whole, each with the reason a reviewer would want. */
  private acknowledgeFindings(): void {
    const stage = this.api.deploymentStage;
    Validations.of(stage).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason:
        'Access logging is on for every request (the ApiAccessLogs group). Execution logging needs the account-wide API Gateway CloudWatch role, an account setting this stack must not take over; and at INFO it would record request details we keep out of logs. Enable it per account if wanted.',
    });
    Validations.of(stage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        "A WAF web ACL is the deployer's choice and cost ($5/month + per-request); associate your own with the stage. The stack already throttles the stage and, tighter, login and register, and login locks an account after repeated failures.",
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        "Each function validates its own body so that a bad request gets the contract's 400 invalid_request JSON (API.md); a gateway request validator would answer with a different body.",
    });
  }
}

const pascal = (name: string) =>
  name
    .split('-')
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');

/**
 * The alias of the authorizer function that carries `rules` (`step-up-mfa-age900`, see `stepUpQualifier`): API
 * Gateway invokes it, and the function reads its rules from the invoked ARN. One alias per rule set and
 * function, on the function's current version. Throws for a function that is not a `lambda.Function` of this app.
 */
export function stepUpAlias(fn: lambda.IFunction, rules: StepUpRules): lambda.IFunction {
  const qualifier = stepUpQualifier(rules);
  if (!qualifier) return fn;
  if (!(fn instanceof lambda.Function))
    throw new Error('step-up rules need the authorizer function itself (to give it an alias)');
  const id = `Alias${pascal(qualifier)}`;
  const found = fn.node.tryFindChild(id);
  if (found) return found as lambda.Alias;
  // `currentVersion` makes CDK warn that permissions granted on the function no longer reach its versions. Nothing
  // here relies on that: API Gateway invokes the alias, and the TokenAuthorizer grants its invoke permission on the
  // alias itself.
  Annotations.of(fn).acknowledgeWarning(
    '@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias',
    'API Gateway invokes the step-up alias, whose own invoke permission the TokenAuthorizer grants',
  );
  return new lambda.Alias(fn, id, { aliasName: qualifier, version: fn.currentVersion });
}

/**
 * Seconds API Gateway may cache a step-up authorizer's answer: none when the rules bound the login's age (a
 * cached Allow would outlive `maxAuthAge`), else the service's. `amr` never changes during a token's life.
 */
export const stepUpCacheTtl = (rules: StepUpRules, serviceTtl: number): number =>
  rules.maxAuthAge === undefined ? serviceTtl : 0;
