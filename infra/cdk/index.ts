/**
 * `lambda-token-auth/cdk`: the token service as a CDK construct library. Put {@link TokenAuthService} in your
 * own app and protect your own API's routes with `authorizerFor(api)` / `httpAuthorizerFor(httpApi)`.
 */
export { AuthAlarms, type AuthAlarmsProps } from './alarms.ts';
export {
  AuthApi,
  type AuthApiProps,
  bearerChallengeResponses,
  corsResponseHeaders,
  type GatewayResponseSpec,
  gatewayResponseHeaders,
  STAGE_NAME,
  serviceGatewayResponses,
} from './api.ts';
export {
  AuthFunctions,
  type AuthFunctionsProps,
  type FunctionProfile,
  functionProfiles,
} from './functions.ts';
export { type ConsumerAuthorizerOptions, TokenAuthService, type TokenAuthServiceProps } from './service.ts';
export { defaultSettings, resolveSettings, type StackSettings } from './settings.ts';
export { AuthServiceStack, type AuthServiceStackProps } from './stack.ts';
export { AuthTables, type AuthTablesProps } from './tables.ts';
