import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { errorCatalogue } from '../../lib/errors.ts';
import { METRICS_NAMESPACE, metricNames, SERVICE_NAME } from '../../lib/observability/names.ts';
import { tableSchema } from '../../lib/store/schema.ts';
import { bundlingOptions } from '../bundling.ts';
import { type FunctionName, functionNames, routes } from '../routes.ts';
import type { StackSettings } from './settings.ts';

/** The repository root: function entry points and the lock file are found from it. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The stage the API is deployed to (the last segment of the API URL). */
export const STAGE_NAME = 'v1';

/**
 * What each function may do, read from what its code calls (lib/): the DynamoDB actions on the table, whether it
 * queries the user-id index, and whether it reads the signing key. Nothing else is granted.
 */
interface FunctionProfile {
  memorySize: number;
  timeoutSeconds: number;
  tableActions: string[];
  /** The kinds of item those actions may touch: an IAM condition on the partition key's prefix. */
  itemKinds: (keyof typeof tableSchema.keyPrefix)[];
  queriesUserIndex: boolean;
  readsSigningKey: boolean;
  /** Serves HTTP routes (and so gets `CORS_ORIGINS`); the authorizer does not. */
  http: boolean;
}

/**
 * Memory is CPU on Lambda: login and register hash passwords with argon2id (m=19 MiB, t=2), which at 1024 MB
 * takes a fraction of what it takes at 256 MB. The others sign or verify an HS256 token and make one or two
 * DynamoDB calls. Timeouts cover the SDK's bounded retries (3 attempts, 1 s connect, 2 s request) and no more.
 */
const profiles: Record<FunctionName, FunctionProfile> = {
  // UserStore.createUser: one conditional UpdateItem, and a GetItem only when its condition fails (to tell a
  // taken name from its own retried write). It never reads the key ring.
  register: {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user'],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
  },
  // UserStore.getUser (GetItem), recordFailure/lock/recordSuccess (UpdateItem), SessionStore.createSession (PutItem).
  login: {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
  },
  // rotateRefreshToken and revokeSession (UpdateItem), getSession on the failure path (GetItem).
  refresh: {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['session'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
  },
  // revokeSession (UpdateItem).
  logout: {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:UpdateItem'],
    itemKinds: ['session'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
  },
  // revokeLiveSession/revokeSession (UpdateItem), listLiveSessionIds (Query on the byUserId index only), and
  // getSession (GetItem) when the index does not list the caller's own session yet (it lags the table).
  'logout-all': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['session'],
    queriesUserIndex: true,
    readsSigningKey: true,
    http: true,
  },
  // Trusts the authorizer's context; touches neither the table nor the key.
  me: {
    memorySize: 128,
    timeoutSeconds: 3,
    tableActions: [],
    itemKinds: [],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
  },
  // The JWKS and discovery documents: the key ring (its public halves) and nothing of the table.
  discovery: {
    memorySize: 256,
    timeoutSeconds: 6,
    tableActions: [],
    itemKinds: [],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
  },
  // authorize(): getSession (GetItem) and the key ring.
  authorizer: {
    memorySize: 256,
    timeoutSeconds: 6,
    tableActions: ['dynamodb:GetItem'],
    itemKinds: ['session'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: false,
  },
};

/** The routes whose stage throttling is tighter: each request costs an argon2id hash. */
const passwordRoutes = ['/auth/login', '/auth/register'];

const logicalName = (name: string) =>
  name
    .split('-')
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');

export interface AuthServiceStackProps extends StackProps {
  settings: StackSettings;
}

/**
 * The whole service on AWS: the table, one function per entry point, the REST API with its TOKEN authorizer,
 * logs, metrics alarms and outputs. The signing key is an SSM SecureString created outside CloudFormation (which
 * cannot create SecureStrings) by `npm run secret:init`, and referenced here by name only.
 */
export class AuthServiceStack extends Stack {
  readonly table: dynamodb.Table;
  readonly api: apigateway.RestApi;
  readonly functions: Record<FunctionName, NodejsFunction>;

  constructor(scope: Construct, id: string, props: AuthServiceStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const retention = settings.logRetentionDays as logs.RetentionDays;
    const logRemoval = settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: tableSchema.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: tableSchema.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: settings.deletionProtection,
      removalPolicy: settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: tableSchema.userIndex.name,
      partitionKey: { name: tableSchema.userIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['revoked'],
    });

    const signingKeyArn = this.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: settings.signingKeyParameterName.replace(/^\//, ''),
    });

    const commonEnv: Record<string, string> = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    // Only the parameter's name: the key itself is read from SSM at cold start and never sits in the env.
    const serviceEnv: Record<string, string> = {
      TABLE_NAME: this.table.tableName,
      JWT_SECRET_PARAM: settings.signingKeyParameterName,
      JWT_ISSUER: settings.jwtIssuer,
      JWT_AUDIENCE: settings.jwtAudience,
    };

    const functions = {} as Record<FunctionName, NodejsFunction>;
    for (const name of functionNames) {
      const profile = profiles[name];
      const id = logicalName(name);
      const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention, removalPolicy: logRemoval });
      // An own role rather than AWSLambdaBasicExecutionRole: it may write to its own log group and nothing else.
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `The ${name} function of the auth service`,
      });
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      if (profile.tableActions.length > 0) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: profile.tableActions,
            resources: [this.table.tableArn],
            // Only items of its own kinds: the authorizer, refresh and logouts cannot read a password hash,
            // register cannot touch a session.
            conditions: {
              'ForAllValues:StringLike': {
                'dynamodb:LeadingKeys': profile.itemKinds.map((kind) => `${tableSchema.keyPrefix[kind]}*`),
              },
            },
          }),
        );
      }
      if (profile.queriesUserIndex) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['dynamodb:Query'],
            resources: [`${this.table.tableArn}/index/${tableSchema.userIndex.name}`],
          }),
        );
      }
      if (profile.readsSigningKey) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [signingKeyArn] }),
        );
        // With SSM's AWS-managed key (aws/ssm) its key policy already lets SSM decrypt for this account's
        // principals; a customer-managed key needs kms:Decrypt, and then only through SSM.
        if (settings.signingKeyKmsKeyArn) {
          role.addToPrincipalPolicy(
            new iam.PolicyStatement({
              actions: ['kms:Decrypt'],
              resources: [settings.signingKeyKmsKeyArn],
              conditions: { StringEquals: { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` } },
            }),
          );
        }
      }

      functions[name] = new NodejsFunction(this, `${id}Function`, {
        description: `auth service: ${name}`,
        entry: join(repoRoot, 'functions', `${name}.ts`),
        handler: 'handler',
        projectRoot: repoRoot,
        depsLockFilePath: join(repoRoot, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: profile.memorySize,
        timeout: Duration.seconds(profile.timeoutSeconds),
        role,
        logGroup,
        environment: {
          ...commonEnv,
          ...(name === 'me' ? {} : serviceEnv),
          ...(profile.http &&
            settings.corsOrigins.length > 0 && { CORS_ORIGINS: settings.corsOrigins.join(',') }),
        },
        bundling: {
          // The settings the cold-start benchmark measures (infra/bundling.ts), so what is measured is deployed.
          format: bundlingOptions.format === 'esm' ? OutputFormat.ESM : OutputFormat.CJS,
          target: bundlingOptions.target,
          minify: bundlingOptions.minify,
          sourceMap: bundlingOptions.sourcemap,
          sourcesContent: bundlingOptions.sourcesContent,
          banner: bundlingOptions.banner,
          mainFields: [...bundlingOptions.mainFields],
          externalModules: [...bundlingOptions.externalModules],
          forceDockerBundling: false,
          logLevel: LogLevel.WARNING,
        },
      });
    }
    this.functions = functions;

    // --- The REST API -------------------------------------------------------------------------------------
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention, removalPolicy: logRemoval });
    const throttledMethods: Record<string, apigateway.MethodDeploymentOptions> = {};
    for (const path of passwordRoutes) {
      throttledMethods[`${path}/POST`] = {
        throttlingRateLimit: settings.passwordRouteRateLimit,
        throttlingBurstLimit: settings.passwordRouteBurstLimit,
      };
    }
    const cors = settings.corsOrigins.length > 0;
    this.api = new apigateway.RestApi(this, 'Api', {
      restApiName: `${this.stackName}-api`,
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
          allowMethods: ['GET', 'POST', 'OPTIONS'],
          allowHeaders: ['Authorization', 'Content-Type'],
          maxAge: Duration.hours(1),
        },
      }),
    });

    const authorizer = new apigateway.TokenAuthorizer(this, 'TokenAuthorizer', {
      handler: functions.authorizer,
      identitySource: apigateway.IdentitySource.header('Authorization'),
      resultsCacheTtl: Duration.seconds(settings.authorizerCacheTtlSeconds),
    });

    const integrations = new Map<FunctionName, apigateway.LambdaIntegration>();
    for (const route of routes) {
      let integration = integrations.get(route.function);
      if (!integration) {
        // No test-invoke permission: only the deployed stage may call the functions.
        integration = new apigateway.LambdaIntegration(functions[route.function], { allowTestInvoke: false });
        integrations.set(route.function, integration);
      }
      const resource = this.api.root.resourceForPath(route.path);
      const method = resource.addMethod(
        route.method,
        integration,
        route.authorized
          ? { authorizer, authorizationType: apigateway.AuthorizationType.CUSTOM }
          : { authorizationType: apigateway.AuthorizationType.NONE },
      );
      if (!route.authorized) {
        const reason = `${route.method} ${route.path} is how a caller gets or gives up its tokens, so it cannot require one: the function itself verifies whatever token the route takes (API.md).`;
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
    this.addGatewayResponses(settings.corsOrigins);

    // --- Alarms -------------------------------------------------------------------------------------------
    const alarmAction = settings.alarmTopicArn
      ? new cloudwatchActions.SnsAction(sns.Topic.fromTopicArn(this, 'AlarmTopic', settings.alarmTopicArn))
      : undefined;
    const alarms: cloudwatch.Alarm[] = [];
    for (const name of functionNames) {
      alarms.push(
        functions[name]
          .metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM })
          .createAlarm(this, `${logicalName(name)}ErrorsAlarm`, {
            alarmDescription: `The ${name} function failed (an unhandled error, a timeout or a crash).`,
            threshold: 1,
            evaluationPeriods: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
      );
    }
    alarms.push(
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: metricNames.reuseDetected,
        dimensionsMap: { service: SERVICE_NAME },
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(5),
      }).createAlarm(this, 'RefreshTokenReuseAlarm', {
        alarmDescription:
          'A rotated-out refresh token was presented again: a stolen token, or a client that does not keep the newest one. The session was revoked.',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    if (alarmAction) for (const alarm of alarms) alarm.addAlarmAction(alarmAction);

    // --- Outputs --------------------------------------------------------------------------------------------
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the auth API' });
    new CfnOutput(this, 'AuthorizerFunctionArn', {
      value: functions.authorizer.functionArn,
      description: 'The TOKEN authorizer: attach it to your own REST API routes (see README)',
      exportName: `${this.stackName}-AuthorizerFunctionArn`,
    });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'SigningKeyParameterName', { value: settings.signingKeyParameterName });

    this.acknowledgeStackFindings();
  }

  /**
   * API Gateway's own answers: the authorizer's 401/403 with `WWW-Authenticate: Bearer` and API.md's bodies;
   * the others in the service's `{error, message}` form, so a client parses every error the same way.
   */
  private addGatewayResponses(corsOrigins: string[]): void {
    const corsHeaders: Record<string, string> =
      corsOrigins.length === 0
        ? {}
        : corsOrigins.length === 1
          ? { 'Access-Control-Allow-Origin': `'${corsOrigins[0]}'`, Vary: "'Origin'" }
          : // A gateway response cannot choose among several origins; it echoes the caller's. Its bodies are
            // fixed sentences, so no origin learns anything from reading them.
            { 'Access-Control-Allow-Origin': 'method.request.header.Origin', Vary: "'Origin'" };
    const json = (body: string) => ({ 'application/json': body });
    const catalogueBody = (code: keyof typeof errorCatalogue) =>
      json(JSON.stringify({ error: code, message: errorCatalogue[code].message }));
    const responses: [
      string,
      apigateway.ResponseType,
      string,
      Record<string, string>,
      Record<string, string>,
    ][] = [
      // A thrown Unauthorized and a missing Authorization header (no identity source) are both this one.
      [
        'Unauthorized',
        apigateway.ResponseType.UNAUTHORIZED,
        '401',
        { 'WWW-Authenticate': "'Bearer'" },
        json('{"message":"Unauthorized"}'),
      ],
      [
        'AccessDenied',
        apigateway.ResponseType.ACCESS_DENIED,
        '403',
        { 'WWW-Authenticate': "'Bearer'" },
        json('{"message":"User is not authorized to access this resource"}'),
      ],
      // API Gateway's name for "no such route or method" (it answers 403 by default): 404, as the local server.
      [
        'NotFound',
        apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        '404',
        {},
        catalogueBody('not_found'),
      ],
      [
        'Throttled',
        apigateway.ResponseType.THROTTLED,
        '429',
        { 'Retry-After': "'1'" },
        json(
          JSON.stringify({
            error: 'too_many_attempts',
            message: 'Too many requests; slow down and try again.',
          }),
        ),
      ],
      ['TooLarge', apigateway.ResponseType.REQUEST_TOO_LARGE, '413', {}, catalogueBody('payload_too_large')],
      [
        'Default5xx',
        apigateway.ResponseType.DEFAULT_5XX,
        '503',
        { 'Retry-After': "'1'" },
        catalogueBody('service_unavailable'),
      ],
    ];
    for (const [id, type, statusCode, headers, templates] of responses) {
      this.api.addGatewayResponse(id, {
        type,
        statusCode,
        responseHeaders: {
          'Content-Type': "'application/json'",
          'Cache-Control': "'no-store'",
          ...headers,
          ...corsHeaders,
        },
        templates,
      });
    }
  }

  /** Findings that concern the stack as a whole, each with the reason a reviewer would want. */
  private acknowledgeStackFindings(): void {
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
