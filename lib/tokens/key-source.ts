import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { serviceUnavailable } from '../errors.ts';
import { type KeyRing, parseKeyRing, type SigningAlgorithm } from './keyring.ts';

/** Where the functions get the signing keys from: a cached read of one SSM SecureString. */
export interface KeyRingSource {
  /** Resolves to the key ring; rejects with a 503 `ApiError` when the parameter store fails. */
  getKeyRing(): Promise<KeyRing>;
}

/**
 * A key-ring source over SSM Parameter Store (SecureString, decrypted), cached for `maxAgeSeconds` so that a
 * rotated key reaches every warm function within that time. The ring is parsed (and its keys turned into
 * `KeyObject`s) only when the parameter's value changes, not on every cache refresh.
 */
export function createSsmKeyRingSource(
  ssm: SSMClient,
  parameterName: string,
  maxAgeSeconds: number,
  algorithm: SigningAlgorithm,
): KeyRingSource {
  const provider = new SSMProvider({ awsSdkV3Client: ssm });
  let parsedFrom: string | undefined;
  let parsed: KeyRing | undefined;
  return {
    async getKeyRing() {
      let value: string | undefined;
      try {
        value = await provider.get(parameterName, { decrypt: true, maxAge: maxAgeSeconds });
      } catch (error) {
        throw serviceUnavailable(error);
      }
      if (typeof value !== 'string')
        throw serviceUnavailable(new Error(`SSM parameter ${parameterName} is empty`));
      if (value !== parsedFrom || !parsed) {
        // A malformed or short key is a deployment fault: refuse to sign or verify with it, loudly.
        parsed = parseKeyRing(value, algorithm);
        parsedFrom = value;
      }
      return parsed;
    },
  };
}
