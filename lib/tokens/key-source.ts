import { serviceUnavailable } from '../errors.ts';
import { type KeyRing, parseKeyRing, type SigningAlgorithm } from './keyring.ts';
import type { SsmParameterReader } from './ssm-parameter.ts';

/** Where the functions get the signing keys from: a cached read of one SSM SecureString. */
export interface KeyRingSource {
  /** Resolves to the key ring; rejects with a 503 `ApiError` when the parameter store fails. */
  getKeyRing(): Promise<KeyRing>;
}

/**
 * A key-ring source over SSM Parameter Store (SecureString, decrypted), cached for `maxAgeSeconds` so that a
 * rotated key reaches every warm function within that time. Concurrent callers share one read. The ring is
 * parsed (and its keys turned into `KeyObject`s) only when the parameter's value changes. A failed read is
 * never cached and never answered with a stale ring: the caller gets a 503 (or the authorizer a refusal), and
 * the next call reads again.
 */
export function createSsmKeyRingSource(
  read: SsmParameterReader,
  parameterName: string,
  maxAgeSeconds: number,
  algorithm: SigningAlgorithm,
  clock: () => number = () => Date.now(),
): KeyRingSource {
  let parsedFrom: string | undefined;
  let parsed: KeyRing | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<KeyRing> | undefined;

  const load = async (): Promise<KeyRing> => {
    let value: string;
    try {
      value = await read(parameterName);
    } catch (error) {
      throw serviceUnavailable(error);
    }
    if (value !== parsedFrom || !parsed) {
      // A malformed or short key is a deployment fault: refuse to sign or verify with it, loudly.
      parsed = parseKeyRing(value, algorithm);
      parsedFrom = value;
    }
    fetchedAt = clock();
    return parsed;
  };

  return {
    getKeyRing() {
      if (parsed && clock() - fetchedAt < maxAgeSeconds * 1000) return Promise.resolve(parsed);
      inFlight ??= load().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
