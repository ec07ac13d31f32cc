import { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Config, loadConfig } from './config.ts';
import { createDocumentClient, createDynamoDbClient } from './store/dynamodb.ts';
import { LoginAttemptStore } from './store/login-attempts.ts';
import { SessionStore } from './store/sessions.ts';
import { UserStore } from './store/users.ts';
import { createSsmKeyRingSource, type KeyRingSource } from './tokens/key-source.ts';

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
  sessions: SessionStore;
  keys: KeyRingSource;
}

/** Builds the services from the environment (the clients are created here, connections on first use). */
export function createServices(env: Record<string, string | undefined> = process.env): Services {
  const config = loadConfig(env);
  const db = createDocumentClient(createDynamoDbClient());
  const ssm = new SSMClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 },
  });
  return {
    config,
    db,
    users: new UserStore(db, config.tableName),
    attempts: new LoginAttemptStore(db, config.tableName, {
      maxFailures: config.loginMaxFailures,
      lockoutBase: config.loginLockoutBase,
      lockoutMax: config.loginLockoutMax,
      failureWindow: config.loginFailureWindow,
      addressMaxFailures: config.loginAddressMaxFailures,
    }),
    sessions: new SessionStore(db, config.tableName),
    keys: createSsmKeyRingSource(ssm, config.jwtSecretParam, config.keyCacheMaxAge),
  };
}

let shared: Services | undefined;

/** The services of this process, created on first use (a Lambda cold start) and then reused. */
export function defaultServices(): Services {
  shared ??= createServices();
  return shared;
}
