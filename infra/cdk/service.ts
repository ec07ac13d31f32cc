import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as apigatewayv2 from 'aws-cdk-lib/aws-apigatewayv2';
import {
  HttpJwtAuthorizer,
  HttpLambdaAuthorizer,
  HttpLambdaResponseType,
} from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import type { StepUpRules } from '../../lib/tokens/step-up.ts';
import { stepUpQualifier } from '../../lib/tokens/step-up.ts';
import type { FunctionName } from '../routes.ts';
import { AuthAlarms } from './alarms.ts';
import {
  AuthApi,
  addGatewayResponses,
  bearerChallengeResponses,
  STAGE_NAME,
  stepUpAlias,
  stepUpCacheTtl,
} from './api.ts';
import { AuthFunctions, functionProfiles } from './functions.ts';
import { AuthMail } from './mail.ts';
import { resolveSettings, type StackSettings } from './settings.ts';
import { AuthTables } from './tables.ts';

/**
 * Every setting of the service (the same names and checks as the standalone stack's CDK context, see
 * infra/cdk/settings.ts), each optional with the same default.
 */
export interface TokenAuthServiceProps extends Partial<StackSettings> {
  /** Name of the service's REST API. Default: `<stack name>-api`. */
  restApiName?: string;
}

/** How a consumer's API uses the service's authorizer. */
export interface ConsumerAuthorizerOptions extends StepUpRules {
  /** Seconds API Gateway caches an answer per token. Default: the service's `authorizerCacheTtlSeconds` (0). */
  resultsCacheTtlSeconds?: number;
  /**
   * REST APIs only: the exact origins the consumer's 401/403 gateway responses allow by CORS. Default: the
   * service's `corsOrigins`.
   */
  corsOrigins?: string[];
  /**
   * REST APIs only: add the 401/403 gateway responses (`WWW-Authenticate: Bearer`, JSON bodies, CORS). Default
   * true; false when the API already has its own UNAUTHORIZED and ACCESS_DENIED responses (an API has at most
   * one of each).
   */
  gatewayResponses?: boolean;
}

/** Constructs whose ids the standalone stack leaves out of logical ids (see `AuthServiceStack`). */
const groupingScopes = new WeakSet<IConstruct>();

const pascalCase = (name: string) =>
  name
    .split('-')
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');

/**
 * The whole token service as one construct: the table, one function per entry point with its least-privilege
 * role, the REST API with its routes, TOKEN authorizer and gateway responses, and the alarms. Put it in your
 * own CDK app, and protect your own API's routes with {@link TokenAuthService.authorizerFor} (REST) or
 * {@link TokenAuthService.httpAuthorizerFor} (HTTP API).
 *
 * The signing key is an SSM SecureString made outside CloudFormation (which cannot create SecureStrings) by
 * `npm run secret:init`, and referenced by name only.
 */
export class TokenAuthService extends Construct {
  /** True for the service itself and the groups inside it (tables, functions, API, alarms). */
  static isGroupingScope(construct: IConstruct): boolean {
    return groupingScopes.has(construct);
  }

  readonly settings: StackSettings;
  readonly table: dynamodb.Table;
  readonly functions: Record<FunctionName, lambda.Function>;
  /** The service's own REST API. */
  readonly api: apigateway.RestApi;
  /** The service API's base URL, without a trailing slash: `${url}/auth/login`. */
  readonly url: string;
  readonly alarms: cloudwatch.Alarm[];
  /** The queue mail requests go through, and its dead-letter queue (alarmed). */
  readonly mailQueue: sqs.Queue;
  readonly mailDeadLetterQueue: sqs.Queue;
  /**
   * `iss` of the tokens. With ES256/RS256 a URL: the `jwtIssuer` setting, or else the stage URL, under which
   * `/.well-known/openid-configuration` and `/.well-known/jwks.json` are served (no authorizer on them).
   */
  readonly issuer: string;
  private readonly ownAuthorizer: apigateway.TokenAuthorizer;
  private readonly restAuthorizers = new Map<apigateway.IRestApi, Map<string, apigateway.IAuthorizer>>();
  private readonly httpAuthorizers = new Map<
    apigatewayv2.IHttpApi,
    Map<string, apigatewayv2.IHttpRouteAuthorizer>
  >();
  private readonly jwtAuthorizers = new Map<apigatewayv2.IHttpApi, HttpJwtAuthorizer>();

  constructor(scope: Construct, id: string, props: TokenAuthServiceProps = {}) {
    super(scope, id);
    const { restApiName, ...settings } = props;
    this.settings = resolveSettings(settings);
    const tables = new AuthTables(this, 'Storage', { deletionProtection: this.settings.deletionProtection });
    const mail = new AuthMail(this, 'Mail', {
      mailerTimeoutSeconds: functionProfiles.mailer.timeoutSeconds,
    });
    const functions = new AuthFunctions(this, 'Handlers', {
      table: tables.table,
      settings: this.settings,
      mailQueue: mail.queue,
    });
    mail.consumeWith(functions.byName.mailer);
    const api = new AuthApi(this, 'Http', {
      functions: functions.byName,
      settings: this.settings,
      ...(restApiName && { restApiName }),
    });
    const alarms = new AuthAlarms(this, 'Alarms', {
      functions: functions.byName,
      alarmTopicArn: this.settings.alarmTopicArn,
    });
    alarms.add(mail.deadLetterAlarm(alarms));
    for (const group of [this, tables, functions, api, alarms, mail]) groupingScopes.add(group);
    this.mailQueue = mail.queue;
    this.mailDeadLetterQueue = mail.deadLetterQueue;

    this.table = tables.table;
    this.functions = functions.byName;
    this.api = api.api;
    this.url = api.url;
    this.ownAuthorizer = api.authorizer;
    this.alarms = alarms.alarms;

    const { signingAlg, jwtIssuer } = this.settings;
    if (signingAlg !== 'HS256' && !jwtIssuer.startsWith('https://')) {
      // The stage URL from the API's id, not from its deployment stage: the functions' environment may refer
      // to the RestApi (which refers to no function) but not to the stage (whose deployment refers to every
      // method, and so to every function): that would be a cycle.
      const stack = Stack.of(this);
      this.issuer = `https://${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${STAGE_NAME}`;
      for (const fn of functions.withServiceEnv) fn.addEnvironment('JWT_ISSUER', this.issuer);
    } else {
      this.issuer = jwtIssuer;
    }
    // The pages the mail links open: the deployer's own (settings), else the ones under the stage URL.
    const stack = Stack.of(this);
    const stageUrl = `https://${this.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}/${STAGE_NAME}`;
    const mailer = functions.byName.mailer;
    mailer.addEnvironment('EMAIL_VERIFY_URL', this.settings.emailVerifyUrl ?? `${stageUrl}/verify-email`);
    mailer.addEnvironment(
      'PASSWORD_RESET_URL',
      this.settings.passwordResetUrl ?? `${stageUrl}/reset-password`,
    );
  }

  /**
   * Opt-in: API Gateway's native JWT authorizer for a route of your own HTTP API, validating the access token's
   * signature, `iss`, `aud` and `exp` against this service's discovery document itself, with no Lambda
   * invocation and no DynamoDB read per request:
   * `httpApi.addRoutes({ path, integration, authorizer: auth.jwtAuthorizerFor(httpApi) })`.
   *
   * The price is revocation: a logged-out, revoked or disabled user's access token keeps working there until it
   * expires (`ACCESS_TOKEN_TTL`, 10 minutes by default), where {@link httpAuthorizerFor} refuses it at once.
   * Refresh tokens are refused (their `aud` differs). HTTP API JWT authorizers accept RSA signatures only, so
   * this needs `signingAlg` RS256; API Gateway caches the keys up to two hours, which the ring's staged key
   * (published a rotation before it signs) covers.
   */
  jwtAuthorizerFor(api: apigatewayv2.IHttpApi): apigatewayv2.IHttpRouteAuthorizer {
    if (this.settings.signingAlg !== 'RS256') {
      throw new Error(
        `TokenAuthService.jwtAuthorizerFor needs signingAlg RS256 (API Gateway's HTTP API JWT authorizer verifies RSA signatures only; this service signs with ${this.settings.signingAlg})`,
      );
    }
    // One per API: a CDK route authorizer binds to the first API it is used on.
    let authorizer = this.jwtAuthorizers.get(api);
    if (!authorizer) {
      authorizer = new HttpJwtAuthorizer(`${this.node.id}JwtAuthorizer`, this.issuer, {
        jwtAudience: [this.settings.jwtAudience],
        identitySource: ['$request.header.Authorization'],
      });
      this.jwtAuthorizers.set(api, authorizer);
    }
    return authorizer;
  }

  /** The TOKEN/REQUEST/HTTP-API Lambda authorizer function. */
  get authorizerFunction(): lambda.IFunction {
    return this.functions.authorizer;
  }

  /**
   * An authorizer for a route of your own REST API, backed by the service's authorizer function:
   * `resource.addMethod('GET', integration, { authorizer: auth.authorizerFor(api) })`. Done for you: API
   * Gateway's permission to invoke the function, and the 401/403 gateway responses with
   * `WWW-Authenticate: Bearer` and CORS headers. The same API gets the same authorizer however often asked.
   * The API may be in another stack of the same account and region.
   *
   * Step-up (RFC 9470) in one line: `auth.authorizerFor(api, { requireMfa: true, maxAuthAge: 900 })` refuses a
   * live session whose login lacks a second factor (`amr` without `mfa`) or is older than `maxAuthAge` seconds
   * with `401` and `WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="…"`
   * (plus `max_age=<seconds>` when the age was the reason): the authorizer's Deny carries the challenge in its
   * context and the API's `ACCESS_DENIED` gateway response maps it into the header. Each rule set is its own
   * authorizer (its own result cache) invoking the one function through an alias that names the rules; with
   * `maxAuthAge` its answers are not cached, since a cached Allow would outlive the age.
   */
  authorizerFor(api: apigateway.IRestApi, options: ConsumerAuthorizerOptions = {}): apigateway.IAuthorizer {
    const qualifier = stepUpQualifier(options);
    if (api === this.api && !qualifier) return this.ownAuthorizer;
    let perApi = this.restAuthorizers.get(api);
    if (!perApi) {
      perApi = new Map();
      this.restAuthorizers.set(api, perApi);
    }
    const existing = perApi.get(qualifier ?? '');
    if (existing) return existing;
    const scope = api as unknown as Construct;
    const suffix = qualifier ? pascalCase(qualifier) : '';
    // Step-up rules reach the one authorizer function through an alias that names them (lib/tokens/step-up.ts).
    const handler = qualifier
      ? this.authorizerFunctionIn(scope, stepUpAlias(this.functions.authorizer, options), suffix)
      : this.authorizerFunctionIn(scope);
    const authorizer = new apigateway.TokenAuthorizer(scope, `${this.node.id}Authorizer${suffix}`, {
      handler,
      identitySource: apigateway.IdentitySource.header('Authorization'),
      resultsCacheTtl: Duration.seconds(
        qualifier ? stepUpCacheTtl(options, this.cacheTtl(options)) : this.cacheTtl(options),
      ),
    });
    // The gateway responses once per API (an API has at most one of each); the service's own API has its own.
    if (perApi.size === 0 && api !== this.api && (options.gatewayResponses ?? true)) {
      addGatewayResponses(
        api,
        bearerChallengeResponses,
        options.corsOrigins
          ? resolveSettings({ corsOrigins: options.corsOrigins }).corsOrigins
          : this.settings.corsOrigins,
        this.node.id,
      );
    }
    perApi.set(qualifier ?? '', authorizer);
    return authorizer;
  }

  /**
   * An authorizer for a route of your own HTTP API (payload 2.0, simple responses), backed by the service's
   * authorizer function: `httpApi.addRoutes({ path, integration, authorizer: auth.httpAuthorizerFor(httpApi) })`.
   * The invoke permission is added with the first route. HTTP APIs have no gateway responses: a refusal is
   * API Gateway's own 401 `{"message":"Unauthorized"}` (no token) or 403 `{"message":"Forbidden"}`, without a
   * `WWW-Authenticate` header; configure CORS with the HTTP API's `corsPreflight`.
   *
   * Step-up rules (`requireMfa`, `maxAuthAge`) are enforced here too, but an HTTP API cannot express RFC 9470's
   * answer: a short login gets the same bare `403 {"message":"Forbidden"}` as any refusal, with no
   * `WWW-Authenticate` challenge and no `max_age` (simple responses carry no status or headers, and HTTP APIs have
   * no gateway responses). A client must treat that 403 on such a route as "sign in again". Use a REST API
   * (`authorizerFor`) where clients need the challenge.
   */
  httpAuthorizerFor(
    api: apigatewayv2.IHttpApi,
    options: Pick<ConsumerAuthorizerOptions, 'resultsCacheTtlSeconds' | 'maxAuthAge' | 'requireMfa'> = {},
  ): apigatewayv2.IHttpRouteAuthorizer {
    const qualifier = stepUpQualifier(options);
    const key = `${qualifier ?? ''}`;
    let perApi = this.httpAuthorizers.get(api);
    if (!perApi) {
      perApi = new Map();
      this.httpAuthorizers.set(api, perApi);
    }
    const existing = perApi.get(key);
    if (existing) return existing;
    const suffix = qualifier ? pascalCase(qualifier) : '';
    const scope = api as unknown as Construct;
    const authorizer = new HttpLambdaAuthorizer(
      `${this.node.id}Authorizer${suffix}`,
      qualifier
        ? this.authorizerFunctionIn(scope, stepUpAlias(this.functions.authorizer, options), suffix)
        : this.authorizerFunctionIn(scope),
      {
        identitySource: ['$request.header.Authorization'],
        responseTypes: [HttpLambdaResponseType.SIMPLE],
        // CDK's default is 5 minutes; the service's default is 0, so that a logout takes effect at once.
        resultsCacheTtl: Duration.seconds(
          qualifier ? stepUpCacheTtl(options, this.cacheTtl(options)) : this.cacheTtl(options),
        ),
      },
    );
    perApi.set(key, authorizer);
    return authorizer;
  }

  private cacheTtl(options: Pick<ConsumerAuthorizerOptions, 'resultsCacheTtlSeconds'>): number {
    if (options.resultsCacheTtlSeconds === undefined) return this.settings.authorizerCacheTtlSeconds;
    return resolveSettings({ authorizerCacheTtlSeconds: options.resultsCacheTtlSeconds })
      .authorizerCacheTtlSeconds;
  }

  /**
   * The authorizer function as seen from `scope`'s stack. In another stack it is imported there, so that the
   * invoke permission the authorizer adds lands in the consumer's stack (which already depends on the
   * service's) rather than in the service's stack, where it would make the two stacks depend on each other.
   */
  private authorizerFunctionIn(
    scope: Construct,
    fn: lambda.IFunction = this.functions.authorizer,
    idSuffix = '',
  ): lambda.IFunction {
    const consumer = Stack.of(scope);
    const service = Stack.of(this);
    if (consumer === service) return fn;
    for (const part of ['account', 'region'] as const) {
      const [a, b] = [consumer[part], service[part]];
      if (!Token.isUnresolved(a) && !Token.isUnresolved(b) && a !== b) {
        throw new Error(
          `TokenAuthService: ${consumer.stackName} is in ${part} ${a} but the service is in ${b}; an API Gateway authorizer must be in the function's account and region.`,
        );
      }
    }
    const id = `${this.node.id}AuthorizerFunction${idSuffix}`;
    const found = scope.node.tryFindChild(id);
    if (found) return found as lambda.IFunction;
    return lambda.Function.fromFunctionAttributes(scope, id, {
      functionArn: fn.functionArn,
      sameEnvironment: true,
    });
  }
}
