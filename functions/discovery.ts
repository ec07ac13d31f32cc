import { httpFunction } from '../lib/http/function.ts';
import {
  DISCOVERY_MAX_AGE_SECONDS,
  JWKS_PATH,
  jsonWebKeySet,
  openIdConfiguration,
} from '../lib/operations/discovery.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** Public documents: any cache may keep them, for at most 5 minutes (API.md). */
const CACHEABLE = { 'Cache-Control': `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}` };

/**
 * `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration` (no authorizer): the public keys and
 * the discovery document with which third parties verify access tokens from the issuer URL alone.
 */
export const handler = httpFunction(async ({ event }) => {
  // `resource` is the route's template on API Gateway; the local server sets it to the route's path too.
  const route = event.resource ?? event.path;
  const body = route.endsWith(JWKS_PATH) ? await jsonWebKeySet(services) : openIdConfiguration(services);
  return { statusCode: 200, body, headers: CACHEABLE };
});
