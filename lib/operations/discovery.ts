import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { type PublicJwk, publicJwks } from '../tokens/keyring.ts';

/** Where the two documents are served, relative to the issuer (OpenID Connect Discovery 1.0, 4; RFC 8615). */
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';
export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * How long a verifier or a proxy may cache either document (API.md: at most 5 minutes). A new key reaches
 * verifiers at most this long after every function has it, which is why a key is staged (published) a whole
 * rotation before it signs; and verifiers fetch the JWKS again anyway when a token names an unknown `kid`.
 */
export const DISCOVERY_MAX_AGE_SECONDS = 300;

/** The discovery document (OpenID Connect Discovery 1.0, 3): what a verifier needs to find the keys. */
export interface OpenIdConfiguration {
  issuer: string;
  jwks_uri: string;
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
}

/** With HS256 there is no public key: neither document exists (API.md), and the paths are `404 not_found`. */
function assertPublicKeys(services: Services): void {
  if (services.config.signingAlg === 'HS256') throw new ApiError('not_found');
}

/**
 * The discovery document of this issuer. Only what a token verifier uses is claimed: there is no
 * authorization or OAuth token endpoint to advertise (login and refresh are this API's own JSON endpoints).
 * Errors: `404 not_found` with HS256.
 */
export function openIdConfiguration(services: Services): OpenIdConfiguration {
  assertPublicKeys(services);
  const { issuer, signingAlg } = services.config;
  return {
    issuer,
    jwks_uri: `${issuer}${JWKS_PATH}`,
    // Required members (Discovery 1.0, 3). "token": tokens are handed out directly, never as an authorization code.
    response_types_supported: ['token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [signingAlg],
  };
}

/**
 * The JWK Set (RFC 7517, 5) of the current key ring: the public key of every key in it, staged and previous
 * ones included, never a private member. Errors: `404 not_found` with HS256; `503` when SSM fails.
 */
export async function jsonWebKeySet(services: Services): Promise<{ keys: PublicJwk[] }> {
  assertPublicKeys(services);
  return publicJwks(await services.keys.getKeyRing());
}
