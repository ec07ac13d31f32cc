import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/observability/names.ts';
import { tableSchema } from '../../lib/store/schema.ts';
import { bundlingOptions } from '../bundling.ts';
import { type FunctionName, functionNames } from '../routes.ts';
import { type StackSettings, senderAddress } from './settings.ts';

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
  /** Queues mail requests: `sqs:SendMessage` on the mail queue (and `MAIL_QUEUE_URL`). */
  enqueuesMail?: boolean;
  /** The mailer: `ses:SendEmail` from the sender identity only (and the mail settings). */
  sendsMail?: boolean;
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
  // name's item). With an address: claimEmail (PutItem of the claim, GetItem of a claim held by another), and
  // EmailStore.release (DeleteItem of its own claim) when the name is lost; queues the verification mail. It never
  // reads the key ring.
  register: {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
    itemKinds: ['user', 'account', 'email'],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // checkPassword: LoginAttemptStore reads and counts the address item (GetItem, UpdateItem), takes a check slot
  // and records the outcome on the user item (UpdateItem, GetItem on contention), and reads a session item to see
  // that a slot's login is over (GetItem); AccountStore.getCredentials (GetItem: roles, disabled, generation,
  // hash). checkWithDevice: the device, name and account items in one BatchGetItem, the device's own count
  // (UpdateItem, GetItem on contention). PasskeyStore.get for an account that may have passkeys (GetItem).
  // startSession: DeviceStore.create (PutItem), SessionStore.createSession (PutItem), or an mfaToken's challenge
  // (PutItem).
  login: {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'address', 'account', 'mfaChallenge', 'device', 'passkeys'],
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
  // authenticate (BatchGetItem), checkFromSession (the session's own count: UpdateItem, GetItem on contention;
  // the name's and the account's items in one BatchGetItem; a rehash's UpdateItem of both), replacePassword
  // (UpdateItem of the account: hash and generation; GetItem of it when a twin request committed first),
  // carryOver (UpdateItem of the session), replacePasswordHash (UpdateItem of the name's copy); queues the
  // "password changed" notice. Sized as login: it checks and hashes passwords.
  'change-password': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // authenticate (BatchGetItem), checkFromSession (as change-password's), listLiveSessionIds (Query),
  // markDeleted (UpdateItem of the account), then DeleteItem of the name's item, of the passkeys and of the
  // sessions.
  'delete-account': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    itemKinds: ['user', 'session', 'account', 'passkeys'],
    queriesUserIndex: true,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), UserStore.getAccount (GetItem of the name's item), PasskeyStore.get (GetItem:
  // the passkey count).
  'get-account': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
    itemKinds: ['user', 'session', 'account', 'passkeys'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), checkFromSession (the session's own count: UpdateItem, GetItem on contention;
  // the name's and the account's items in one BatchGetItem; a rehash's UpdateItem), PasskeyStore.get (GetItem: the credentials to exclude),
  // WebAuthnChallengeStore.issue (PutItem). Sized as login: it checks a password.
  'passkey-register-options': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account', 'passkeys', 'webauthnChallenge'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), WebAuthnChallengeStore.consume (DeleteItem), PasskeyStore.add (UpdateItem, and a
  // GetItem when its condition fails, to tell its own retried write from a duplicate); the notice: the name's
  // item (GetItem: the address) and the queue.
  'register-passkey': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account', 'passkeys', 'webauthnChallenge'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // authenticate (BatchGetItem), PasskeyStore.get (GetItem).
  'list-passkeys': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
    itemKinds: ['session', 'account', 'passkeys'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // LinkStore.get and UserStore.getAccount (GetItem), LinkStore.redeem and markEmailVerified (UpdateItem). No key:
  // a link is not a token.
  'verify-email': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'link'],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), checkFromSession (as passkey-register-options'), claimEmail (PutItem, GetItem of the claim and the holder's item), setEmail (UpdateItem), the old claim's
  // release (DeleteItem); queues the verification mail and the notice.
  'change-email': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: [
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    ],
    itemKinds: ['user', 'session', 'account', 'email'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // authenticate (BatchGetItem), UserStore.getAccount (GetItem), LimitStore.take (UpdateItem, GetItem when full);
  // queues the verification mail.
  'resend-verification': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account', 'limit'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // authenticate (BatchGetItem), PasskeyStore.rename (UpdateItem), PasskeyStore.get (GetItem: the answer).
  'rename-passkey': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['session', 'account', 'passkeys'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // LimitStore.take for the client address (UpdateItem, GetItem when full); queues the request. It reads no
  // account: the lookup is the mailer's, so the answer cannot depend on it.
  'forgot-password': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['limit'],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // LinkStore.get, UserStore.getAccount, AccountStore.getCredentials (GetItem); with TOTP on, the second factor's
  // guarded check (the address item's GetItem and UpdateItem, a check slot and its outcome on the name's item, a
  // session's GetItem to see that a slot's login is over) and the step or recovery code (UpdateItem of the name's
  // item), with the key ring (the TOTP secret is sealed under a key derived from it); redeem, replacePassword
  // (the account item, then the name's copy of the hash), markEmailVerified and the unlock (UpdateItem); queues
  // the notice. Hashes a password.
  'reset-password': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'address', 'account', 'link'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // deliverMailRequest: the claim, the name's item and the account item (GetItem: the hash a reset link is bound
  // to), the reset limit (UpdateItem, GetItem), the link (PutItem, DeleteItem when the send fails); SES SendEmail
  // from the sender identity.
  mailer: {
    memorySize: 256,
    timeoutSeconds: 30,
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    itemKinds: ['user', 'account', 'email', 'link', 'limit'],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: false,
    serviceEnv: true,
    sendsMail: true,
  },
  // authenticate (BatchGetItem), PasskeyStore.remove (UpdateItem); the notice: the name's item (GetItem: the
  // address) and the queue.
  'delete-passkey': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account', 'passkeys'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // WebAuthnChallengeStore.issue (PutItem of a challenge item) and nothing else: no key, no user item.
  'passkey-login-options': {
    memorySize: 256,
    timeoutSeconds: 6,
    tableActions: ['dynamodb:PutItem'],
    itemKinds: ['webauthnChallenge'],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
    serviceEnv: true,
  },
  // WebAuthnChallengeStore.consume (DeleteItem); checkPasskey: the address item (GetItem, UpdateItem),
  // PasskeyStore.get (GetItem), a check slot and the outcome on the name's item (UpdateItem, GetItem on contention),
  // a session's GetItem to see that a slot's login is over, PasskeyStore.recordUse (UpdateItem); then
  // AccountStore.getAccount (GetItem), a presented device token (readKnownDevice: BatchGetItem of the device, the
  // name's and the account items; its count cleared and life extended: UpdateItem) or a new one
  // (DeviceStore.create: PutItem), and SessionStore.createSession (PutItem). No password is hashed: sized as
  // refresh.
  'passkey-login': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: [
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ],
    itemKinds: ['user', 'session', 'address', 'account', 'passkeys', 'webauthnChallenge', 'device'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // The mfaToken's challenge (GetItem, UpdateItem), the guarded check as login's (address and name items, a
  // session's GetItem to see a lease is over), the TOTP step or recovery code (UpdateItem of the name's item) or
  // the passkey (WebAuthnChallengeStore.consume: DeleteItem; PasskeyStore.get: GetItem; recordUse: UpdateItem),
  // AccountStore.getAccount (GetItem) and SessionStore.createSession (PutItem). No password hashing. With a known
  // device instead of the guarded check: readKnownDevice (BatchGetItem of the device, the name's and the account
  // items) and the device's own count (UpdateItem, GetItem on contention); without one, DeviceStore.create
  // (PutItem).
  'login-mfa': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: [
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ],
    itemKinds: [
      'user',
      'session',
      'address',
      'account',
      'mfaChallenge',
      'device',
      'passkeys',
      'webauthnChallenge',
    ],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // SecondFactorStore.getChallenge (GetItem of the mfaToken's item), PasskeyStore.get (GetItem: the credentials
  // to allow), WebAuthnChallengeStore.issue (PutItem). No key: it signs and verifies nothing.
  'login-mfa-options': {
    memorySize: 256,
    timeoutSeconds: 6,
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
    itemKinds: ['mfaChallenge', 'passkeys', 'webauthnChallenge'],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), checkFromSession (as passkey-register-options'), the key ring (the secret is sealed under a key derived from it), SecondFactorStore.setPendingTotp (UpdateItem).
  'totp-enrol': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
  },
  // authenticate (BatchGetItem), the user item (GetItem), SecondFactorStore.enableTotp (UpdateItem), the notice
  // (the queue). No password.
  'totp-confirm': {
    memorySize: 256,
    timeoutSeconds: 8,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // authenticate (BatchGetItem), checkFromSession (as totp-enrol), SecondFactorStore.removeTotp (UpdateItem), the
  // notice (the queue).
  'totp-disable': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
  },
  // authenticate (BatchGetItem), checkFromSession (as totp-enrol), SecondFactorStore.replaceRecoveryCodes
  // (UpdateItem), the notice (the queue).
  'recovery-codes': {
    memorySize: 1024,
    timeoutSeconds: 10,
    tableActions: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
    itemKinds: ['user', 'session', 'account'],
    queriesUserIndex: false,
    readsSigningKey: true,
    http: true,
    serviceEnv: true,
    enqueuesMail: true,
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
  // The pages a mailed link opens: documents built into its bundle; touches neither the table nor the key.
  'link-pages': {
    memorySize: 128,
    timeoutSeconds: 3,
    tableActions: [],
    itemKinds: [],
    queriesUserIndex: false,
    readsSigningKey: false,
    http: true,
    serviceEnv: false,
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
  /** ARN of the mail queue. */
  mailQueueArn: string;
  /** ARN of the SES identity (domain or address) the mail is sent from. */
  mailIdentityArn: string;
  /** The sender address itself (`MAIL_FROM` without a display name). */
  mailFromAddress: string;
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
  if (profile.enqueuesMail) {
    statements.push(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [targets.mailQueueArn] }),
    );
  }
  if (profile.sendsMail) {
    // From the sender identity only, and only with its own address as the sender.
    statements.push(
      new iam.PolicyStatement({
        actions: ['ses:SendEmail', 'ses:SendRawEmail'],
        resources: [targets.mailIdentityArn],
        conditions: { StringEquals: { 'ses:FromAddress': targets.mailFromAddress } },
      }),
    );
  }
  return statements;
}

export interface AuthFunctionsProps {
  table: dynamodb.ITable;
  settings: StackSettings;
  /** The queue mail requests go to. */
  mailQueue: sqs.IQueue;
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
    const { settings, table, mailQueue } = props;
    const mailFromAddress = senderAddress(settings.mailFrom) as string;
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
      mailQueueArn: mailQueue.queueArn,
      mailIdentityArn: Stack.of(this).formatArn({
        service: 'ses',
        resource: 'identity',
        resourceName: settings.mailIdentity ?? (mailFromAddress.split('@')[1] as string),
      }),
      mailFromAddress,
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
      WEBAUTHN_RP_NAME: settings.webauthnRpName,
      ...(settings.webauthnRpId && { WEBAUTHN_RP_ID: settings.webauthnRpId }),
      ...(settings.webauthnOrigins.length > 0 && { WEBAUTHN_ORIGINS: settings.webauthnOrigins.join(',') }),
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
          ...(profile.enqueuesMail && { MAIL_QUEUE_URL: mailQueue.queueUrl }),
          ...(profile.sendsMail && { MAIL_TRANSPORT: 'ses', MAIL_FROM: settings.mailFrom }),
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
