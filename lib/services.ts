import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Config, loadConfig } from './config.ts';
import { LocalOutbox, type Outbox, sqsOutbox } from './mail/outbox.ts';
import type { MailTransport } from './mail/transport.ts';
import { type Argon2Params, createPasswordHasher, type PasswordHasher } from './passwords/argon2.ts';
import { AccountStore } from './store/accounts.ts';
import { DeviceStore } from './store/devices.ts';
import { createDocumentClient, createDynamoDbClient } from './store/dynamodb.ts';
import { EmailStore } from './store/emails.ts';
import { LimitStore } from './store/limits.ts';
import { LinkStore } from './store/links.ts';
import { LoginAttemptStore } from './store/login-attempts.ts';
import { OwnCountStore } from './store/own-counts.ts';
import { PasskeyStore } from './store/passkeys.ts';
import { SecondFactorStore } from './store/second-factors.ts';
import { SessionStore } from './store/sessions.ts';
import { UserStore } from './store/users.ts';
import { WebAuthnChallengeStore } from './store/webauthn-challenges.ts';
import { createSsmKeyRingSource, type KeyRingSource } from './tokens/key-source.ts';
import { createSsmParameterReader } from './tokens/ssm-parameter.ts';

/** Everything an operation needs, built once per cold start and shared by every invocation. */
export interface Services {
  config: Config;
  /**
   * The one DynamoDB client both stores send through: exposed so that its middleware stack can be observed
   * (request counts in the bench, injected faults in tests) exactly where the SDK sends.
   */
  db: DynamoDBDocumentClient;
  users: UserStore;
  /** The brute-force counters (per name, per (name, address) pair, per address) and check admission. */
  attempts: LoginAttemptStore;
  /** Failure counts kept on a known device or a live session, judging their own password checks. */
  ownCounts: OwnCountStore;
  /** Known devices (device tokens, stored as hashes). */
  devices: DeviceStore;
  sessions: SessionStore;
  accounts: AccountStore;
  /** TOTP and recovery codes (on the user item) and pending second-factor logins. */
  secondFactors: SecondFactorStore;
  /** Users' passkeys (WebAuthn credentials). */
  passkeys: PasskeyStore;
  /** Pending WebAuthn challenges, each used once. */
  webauthnChallenges: WebAuthnChallengeStore;
  keys: KeyRingSource;
  /** Password hashing at the process's argon2id parameters (the production ones unless a test injects others). */
  passwords: PasswordHasher;
  /** Address claims (one account per address). */
  emails: EmailStore;
  /** Mailed links, by the hash of their secret. */
  links: LinkStore;
  /** Fixed-window mail and request limits. */
  limits: LimitStore;
  /** Where requests that cause a mail go: SQS on AWS (`MAIL_QUEUE_URL`), else an in-process queue. */
  outbox: Outbox;
  /**
   * The mail transport the mailer sends through (`MAIL_TRANSPORT`), created on first use by what
   * {@link provideMailTransport} registered. Replaceable, so that a test can put a failing transport in its place.
   */
  mail: { transport: MailTransport };
}

let createTransport: ((config: Config) => MailTransport) | undefined;

/**
 * Registers how this process creates its mail transport (`createMailTransport` of `lib/mail/transport.ts`). Only
 * what sends mail calls it — the mailer function and the local server — so that the MIME composer and the SES
 * client (about 300 KiB) stay out of every other function's bundle. Read at the first send, so it may come after
 * the services were created. Without it, every send fails (and the outbox's retries dead-letter the request).
 */
export function provideMailTransport(create: (config: Config) => MailTransport): void {
  createTransport = create;
}

/** What a caller may choose beyond the environment: only tests choose anything. */
export interface ServiceOptions {
  /**
   * argon2id parameters for new hashes, the rehash check and the dummy hash. Absent: the production parameters
   * (`CURRENT_ARGON2_PARAMS`). Not configurable from the environment, so that no deployment can weaken them.
   */
  argon2Params?: Argon2Params;
}

/**
 * `DYNAMODB_REQUEST_TIMEOUT_MS` and `DYNAMODB_CONNECTION_TIMEOUT_MS`: milliseconds an attempt may wait for
 * DynamoDB's answer, and for its connection, before it is aborted and retried (defaults 2000 and 1000,
 * `createDynamoDbClient`'s). Only the local server sets them, for its in-process store.
 */
function timeoutOf(
  env: Record<string, string | undefined>,
  name: 'DYNAMODB_REQUEST_TIMEOUT_MS' | 'DYNAMODB_CONNECTION_TIMEOUT_MS',
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`Configuration error: ${name} must be a whole number >= 1 (got "${raw}")`);
  return value;
}

/** Builds the services from the environment (the clients are created here, connections on first use). */
export function createServices(
  env: Record<string, string | undefined> = process.env,
  options: ServiceOptions = {},
): Services {
  const config = loadConfig(env);
  const db = createDocumentClient(
    createDynamoDbClient({
      requestTimeoutMs: timeoutOf(env, 'DYNAMODB_REQUEST_TIMEOUT_MS'),
      connectionTimeoutMs: timeoutOf(env, 'DYNAMODB_CONNECTION_TIMEOUT_MS'),
    }),
  );
  const policy = {
    maxFailures: config.loginMaxFailures,
    lockoutBase: config.loginLockoutBase,
    lockoutMax: config.loginLockoutMax,
    failureWindow: config.loginFailureWindow,
    addressMaxFailures: config.loginAddressMaxFailures,
  };
  // Bounded as the SDK client was: 3 attempts of at most 2 s each.
  const readParameter = createSsmParameterReader(env, { maxAttempts: 3, attemptTimeoutMs: 2000 });
  let transport: MailTransport | undefined;
  const services: Services = {
    config,
    db,
    users: new UserStore(db, config.tableName),
    attempts: new LoginAttemptStore(db, config.tableName, policy),
    ownCounts: new OwnCountStore(db, config.tableName, policy),
    devices: new DeviceStore(db, config.tableName),
    sessions: new SessionStore(db, config.tableName),
    accounts: new AccountStore(db, config.tableName),
    secondFactors: new SecondFactorStore(db, config.tableName),
    passkeys: new PasskeyStore(db, config.tableName),
    webauthnChallenges: new WebAuthnChallengeStore(db, config.tableName),
    keys: createSsmKeyRingSource(
      readParameter,
      config.jwtSecretParam,
      config.keyCacheMaxAge,
      config.signingAlg,
    ),
    passwords: createPasswordHasher(options.argon2Params),
    emails: new EmailStore(db, config.tableName),
    links: new LinkStore(db, config.tableName),
    limits: new LimitStore(db, config.tableName),
    outbox: config.mailQueueUrl
      ? sqsOutbox(config.mailQueueUrl)
      : // Imported when the first mail goes: the mailer brings the metrics module, which must not be loaded before
        // the process's environment is complete (the local server imports this module before it sets it).
        new LocalOutbox(async (request) =>
          (await import('./mail/mailer.ts')).deliverMailRequest(services, request),
        ),
    mail: {
      get transport() {
        transport ??= createTransport?.(config) ?? {
          name: 'none',
          send: () =>
            Promise.reject(new Error('this process has no mail transport (see provideMailTransport)')),
        };
        return transport;
      },
      set transport(replacement: MailTransport) {
        transport = replacement;
      },
    },
  };
  return services;
}

let shared: Services | undefined;
let sharedOptions: ServiceOptions = {};

/** The services of this process, created on first use (a Lambda cold start) and then reused. */
export function defaultServices(): Services {
  shared ??= createServices(process.env, sharedOptions);
  return shared;
}

/**
 * For tests (the in-process tier): the options the process's services will be created with. Must come before
 * the first {@link defaultServices} call, i.e. before any function is imported; throws after it.
 */
export function setDefaultServiceOptions(options: ServiceOptions): void {
  if (shared)
    throw new Error(
      'the services of this process already exist: set their options before importing a function',
    );
  sharedOptions = options;
}
