import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Config, loadConfig } from './config.ts';
import { createDocumentClient, createDynamoDbClient } from './store/dynamodb.ts';
import { SessionStore } from './store/sessions.ts';
import { UserStore } from './store/users.ts';
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
  sessions: SessionStore;
  keys: KeyRingSource;
}

/** Builds the services from the environment (the clients are created here, connections on first use). */
export function createServices(env: Record<string, string | undefined> = process.env): Services {
  const config = loadConfig(env);
  const db = createDocumentClient(createDynamoDbClient());
  // Bounded as the SDK client was: 3 attempts of at most 2 s each.
  const readParameter = createSsmParameterReader(env, { maxAttempts: 3, attemptTimeoutMs: 2000 });
  return {
    config,
    db,
    users: new UserStore(db, config.tableName),
    sessions: new SessionStore(db, config.tableName),
    keys: createSsmKeyRingSource(
      readParameter,
      config.jwtSecretParam,
      config.keyCacheMaxAge,
      config.signingAlg,
    ),
  };
}

let shared: Services | undefined;

/** The services of this process, created on first use (a Lambda cold start) and then reused. */
export function defaultServices(): Services {
  shared ??= createServices();
  return shared;
}
