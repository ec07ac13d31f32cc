import { type Config, loadConfig } from './config.ts';
import { DynamoDbHttpClient } from './store/dynamodb-http.ts';
import { SessionReader } from './store/session-reader.ts';
import { createSsmKeyRingSource, type KeyRingSource } from './tokens/key-source.ts';
import { createSsmParameterReader } from './tokens/ssm-parameter.ts';

/**
 * What the authorizer needs, and nothing that loads the AWS SDK: the configuration, the key ring (one signed
 * SSM read, cached) and the session read over {@link DynamoDbHttpClient}. The authorizer runs on every request
 * of every consumer API, so its bundle and its CPU per request are kept to these (see the README's "Costs").
 * Every other function keeps `lib/services.ts` and the SDK.
 */
export interface AuthorizerServices {
  config: Config;
  /** The client the session read sends through: exposed, like `Services.db`, for the bench and tests to observe. */
  db: DynamoDbHttpClient;
  sessions: SessionReader;
  keys: KeyRingSource;
}

/** Builds the authorizer's services from the environment (connections on first use). */
export function createAuthorizerServices(
  env: Record<string, string | undefined> = process.env,
): AuthorizerServices {
  const config = loadConfig(env);
  // Bounded as the SDK client is: 3 attempts of at most 2 s each, connections within 1 s.
  const db = new DynamoDbHttpClient(env, { maxAttempts: 3, attemptTimeoutMs: 2000, connectTimeoutMs: 1000 });
  const readParameter = createSsmParameterReader(env, { maxAttempts: 3, attemptTimeoutMs: 2000 });
  return {
    config,
    db,
    sessions: new SessionReader(db, config.tableName),
    keys: createSsmKeyRingSource(
      readParameter,
      config.jwtSecretParam,
      config.keyCacheMaxAge,
      config.signingAlg,
    ),
  };
}

let shared: AuthorizerServices | undefined;

/** The authorizer's services in this process, created on first use (a cold start) and then reused. */
export function authorizerServices(): AuthorizerServices {
  shared ??= createAuthorizerServices();
  return shared;
}
