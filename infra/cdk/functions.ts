import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/observability/names.ts';
import { tableSchema } from '../../lib/store/schema.ts';
import { bundlingOptions } from '../bundling.ts';
import { type FunctionName, functionNames } from '../routes.ts';
import type { StackSettings } from './settings.ts';

/** The repository root: function entry points and the lock file are found from it. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The bundles an installed package ships (`dist/lambda/<name>/index.mjs`, built by scripts/build-package.ts
 * with the same esbuild settings): found beside the compiled construct, and absent in a checkout, where the
 * functions are bundled from source at synth instead. A consumer's synth then needs neither esbuild nor Docker.
 */
const prebuiltDir = join(repoRoot, 'lambda');
const prebuilt = (name: FunctionName) =>
  existsSync(join(prebuiltDir, name, 'index.mjs')) ? join(prebuiltDir, name) : undefined;

/**
 * What one function needs: its size, and exactly the permissions its code uses (read from what it calls in
 * lib/). Nothing else is granted. A new function is one entry in {@link functionProfiles} (the type makes it
 * required for every name in `functionNames`).
 */
export interface FunctionProfile {
  memorySize: number;
  timeoutSeconds: number;
  /** DynamoDB actions on the table's items (not its indexes). */
  tableActions: string[];
  /** The kinds of item those actions may touch: an IAM condition on the partition key's prefix. */
  itemKinds: (keyof typeof tableSchema.keyPrefix)[];
  /** `dynamodb:Query` on the live-session index, and on nothing else. */
  queriesUserIndex: boolean;
  /** `ssm:GetParameter` on the signing-key parameter (and `kms:Decrypt` through SSM with a customer key). */
  readsSigningKey: boolean;
  /** Serves HTTP routes (and so gets `CORS_ORIGINS`); the authorizer does not. */
  http: boolean;
  /** Needs the table, key and token settings in its environment (`me` trusts the authorizer and needs none). */
  serviceEnv: boolean;
}

/**
 * Memory is CPU on Lambda: login and register hash passwords with argon2id (m=19 MiB, t=2), which at 1024 MB
 * takes a fraction of what it takes at 256 MB. The others sign or verify an HS256 token and make one or two
 * DynamoDB calls. Timeouts cover the SDK's bounded retries (3 attempts, 1 s connect, 2 s request) and no more.
 */
export const functionProfiles: Record<FunctionName, FunctionProfile> = {
  // UserStore.createUser: one conditional PutItem (a whole new item, so no lock state of the name carries over),
  // and a GetItem only when its condition fails (to tell a taken name from its own retried write); for a name
  // whose account was deleted, the account's GetItem and UserStore.reclaimName (a conditional PutItem of the
  // name's item). It never reads the key ring.
  register: {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    itemKinds: ['user', 'account'],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
    serviceEnv: true,
  },
  // checkPassword: LoginAttemptStore reads and counts the address item (GetItem, UpdateItem), takes a check slot
  // and records the outcome on the user item (UpdateItem, GetItem on contention), and reads a session item to see
  // that a slot's login is over (GetItem); AccountStore.getAccount (GetItem: roles, disabled, generation);
  // SessionStore.createSession (PutItem).
  login: {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'address', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // getSessionWithAccount (BatchGetItem of the session and its account), rotateRefreshToken and revokeSession
  // (UpdateItem), getSession after a failed write (GetItem). It writes no account item, but one statement grants
  // its actions on both kinds.
  refresh: {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
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
    serviceEnv: true,
  },
  // authenticate (BatchGetItem of session and account), AccountStore.revokeAllSessions (UpdateItem): nothing per
  // session, so no index.
  'logout-all': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), listLiveSessionIds (Query on the live-session index), getSessions (BatchGetItem).
  'list-sessions': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem'],
    itemKinds: ['session', 'account'],
    queriesUserIndex: true,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), revokeOwnSession (UpdateItem of a session).
  'revoke-session': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), checkPassword (GetItem and UpdateItem of the address and the name's items,
  // GetItem of the account), replacePassword (UpdateItem of the account: hash and generation), carryOver
  // (UpdateItem of the session), replacePasswordHash (UpdateItem of the name's copy). Sized as login: it checks
  // and hashes passwords.
  'change-password': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'address', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), checkPassword (GetItem, UpdateItem of the address and the name's items),
  // listLiveSessionIds (Query), markDeleted (UpdateItem of the account), then DeleteItem of the name's item and of
  // the sessions.
  'delete-account': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    itemKinds: ['user', 'session', 'address', 'account'],
    queriesUserIndex: true,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
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
    serviceEnv: false,
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
    serviceEnv: true,
  },
  // authorize(): getSessionWithAccount (one BatchGetItem of the session and its account) and the key ring.
  authorizer: {
    memorySize: 256,
    timeoutSeconds: 6,
    tableActions: ['dynamodb:BatchGetItem'],
    itemKinds: ['session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: false,
    serviceEnv: true,
  },
};

/** `logout-all` -> `LogoutAll`: the prefix of a function's construct ids. */
export const logicalName = (name: string) =>
  name
    .split('-')
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');

/** What a function's grants are resolved against. */
export interface GrantTargets {
  table: dynamodb.ITable;
  /** ARN of the signing-key parameter. */
  signingKeyArn: string;
  signingKeyKmsKeyArn: string | undefined;
}

/** The IAM statements a profile asks for, beyond writing to its own log group. */
export function grantStatements(profile: FunctionProfile, targets: GrantTargets): iam.PolicyStatement[] {
  const statements: iam.PolicyStatement[] = [];
  if (profile.tableActions.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        actions: profile.tableActions,
        resources: [targets.table.tableArn],
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
    statements.push(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${targets.table.tableArn}/index/${tableSchema.liveSessionIndex.name}`],
      }),
    );
  }
  if (profile.readsSigningKey) {
    statements.push(
      new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [targets.signingKeyArn] }),
    );
    // With SSM's AWS-managed key (aws/ssm) its key policy already lets SSM decrypt for this account's
    // principals; a customer-managed key needs kms:Decrypt, and then only through SSM.
    if (targets.signingKeyKmsKeyArn) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [targets.signingKeyKmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `ssm.${Aws.REGION}.amazonaws.com` } },
        }),
      );
    }
  }
  return statements;
}

export interface AuthFunctionsProps {
  table: dynamodb.ITable;
  settings: StackSettings;
}

/**
 * One Lambda function per entry point (`functions/<name>.ts`), each with a log group and a role of its own
 * that holds exactly its profile's grants.
 */
export class AuthFunctions extends Construct {
  readonly byName: Record<FunctionName, lambda.Function>;
  /** The functions that read the service's settings (and so `JWT_ISSUER`) from their environment. */
  readonly withServiceEnv: lambda.Function[] = [];

  constructor(scope: Construct, id: string, props: AuthFunctionsProps) {
    super(scope, id);
    const { settings, table } = props;
    const retention = settings.logRetentionDays as logs.RetentionDays;
    const logRemoval = settings.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const targets: GrantTargets = {
      table,
      signingKeyArn: Stack.of(this).formatArn({
        service: 'ssm',
        resource: 'parameter',
        resourceName: settings.signingKeyParameterName.replace(/^\//, ''),
      }),
      signingKeyKmsKeyArn: settings.signingKeyKmsKeyArn,
    };
    const commonEnv: Record<string, string> = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    };
    // Only the parameter's name: the key itself is read from SSM at cold start and never sits in the env.
    const serviceEnv: Record<string, string> = {
      TABLE_NAME: table.tableName,
      JWT_SECRET_PARAM: settings.signingKeyParameterName,
      JWT_ISSUER: settings.jwtIssuer,
      JWT_AUDIENCE: settings.jwtAudience,
      SIGNING_ALG: settings.signingAlg,
    };

    const byName = {} as Record<FunctionName, lambda.Function>;
    for (const name of functionNames) {
      const profile = functionProfiles[name];
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
      for (const statement of grantStatements(profile, targets)) role.addToPrincipalPolicy(statement);

      const common = {
        description: `auth service: ${name}`,
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: profile.memorySize,
        timeout: Duration.seconds(profile.timeoutSeconds),
        role,
        logGroup,
        environment: {
          ...commonEnv,
          ...(profile.serviceEnv ? serviceEnv : {}),
          ...(profile.http &&
            settings.corsOrigins.length > 0 && { CORS_ORIGINS: settings.corsOrigins.join(',') }),
        },
      };
      const bundle = prebuilt(name);
      if (bundle) {
        byName[name] = new lambda.Function(this, `${id}Function`, {
          ...common,
          code: lambda.Code.fromAsset(bundle),
          handler: 'index.handler',
        });
        continue;
      }
      byName[name] = new NodejsFunction(this, `${id}Function`, {
        ...common,
        entry: join(repoRoot, 'functions', `${name}.ts`),
        handler: 'handler',
        projectRoot: repoRoot,
        depsLockFilePath: join(repoRoot, 'package-lock.json'),
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
          esbuildArgs: Object.fromEntries(
            Object.entries(bundlingOptions.alias).map(([name, path]) => [`--alias:${name}`, path]),
          ),
          forceDockerBundling: false,
          logLevel: LogLevel.WARNING,
        },
      });
    }
    for (const name of functionNames)
      if (functionProfiles[name].serviceEnv) this.withServiceEnv.push(byName[name]);
    this.byName = byName;
  }
}
