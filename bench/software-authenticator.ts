import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A software WebAuthn authenticator for the in-process tests and the bench (the browser tests use Chromium's
 * virtual one):
 * ES256 credentials, `none` attestation, and every flag and field a test may want wrong. The CBOR is encoded by
 * SimpleWebAuthn's own `isoCBOR` helper; only the fixed byte layout of authenticator data (W3C WebAuthn Level 2,
 * 6.1) is put together here.
 */

/** One credential the authenticator holds. */
export interface TestCredential {
  id: string;
  privateKey: KeyObject;
  /** The user handle it was created for (base64url), returned with each assertion. */
  userHandle: string;
  /** The signature counter it reports next (then increments); 0 for one that keeps no counter. */
  counter: number;
  backupEligible: boolean;
  keepsCounter: boolean;
}

export interface CeremonyOverrides {
  /** The origin the "browser" reports in the client data (default: the authenticator's). */
  origin?: string;
  /** The RP ID whose hash the authenticator data carries (default: the options'). */
  rpId?: string;
  /** User verification (the `UV` flag); default true. */
  userVerified?: boolean;
  /** The counter to report instead of the next one. */
  counter?: number;
  /** Sign something else: the signature then does not verify. */
  badSignature?: boolean;
  /** The challenge to answer instead of the options'. */
  challenge?: string;
  /** The user handle to send instead of the credential's (null: none). */
  userHandle?: string | null;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

function authenticatorData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
}

/** A COSE_Key (RFC 9052) of an ES256 public key: kty EC2, alg -7, crv P-256, x, y. */
function coseKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  return isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y as string, 'base64url'))],
    ]),
  );
}

export class TestAuthenticator {
  readonly origin: string;
  readonly credentials: TestCredential[] = [];

  constructor(origin: string) {
    this.origin = origin;
  }

  /** `navigator.credentials.create()`: a new credential for the creation options, as `RegistrationResponseJSON`. */
  register(
    options: Pick<PublicKeyCredentialCreationOptionsJSON, 'challenge' | 'rp' | 'user'>,
    overrides: CeremonyOverrides & { backupEligible?: boolean; keepsCounter?: boolean } = {},
  ): RegistrationResponseJSON {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = randomBytes(16);
    const credential: TestCredential = {
      id: b64url(id),
      privateKey,
      userHandle: options.user.id,
      counter: overrides.keepsCounter === false ? 0 : 1,
      backupEligible: overrides.backupEligible ?? false,
      keepsCounter: overrides.keepsCounter ?? true,
    };
    const length = Buffer.alloc(2);
    length.writeUInt16BE(id.length);
    const attested = Buffer.concat([Buffer.alloc(16), length, id, Buffer.from(coseKey(publicKey))]);
    const authData = authenticatorData(
      overrides.rpId ?? options.rp.id ?? '',
      this.#flags(credential, overrides) | FLAG_AT,
      0,
      attested,
    );
    const clientDataJSON = JSON.stringify({
      type: 'webauthn.create',
      challenge: overrides.challenge ?? options.challenge,
      origin: overrides.origin ?? this.origin,
      crossOrigin: false,
    });
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Map<string, string> | Uint8Array>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', new Uint8Array(authData)],
      ]),
    );
    this.credentials.push(credential);
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(Buffer.from(clientDataJSON)),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /**
   * `navigator.credentials.get()`: an assertion (`AuthenticationResponseJSON`) by `credential` (default: the
   * newest) for the request options.
   */
  assert(
    options: Pick<PublicKeyCredentialRequestOptionsJSON, 'challenge' | 'rpId'>,
    overrides: CeremonyOverrides & { credential?: TestCredential } = {},
  ): AuthenticationResponseJSON {
    const credential = overrides.credential ?? this.credentials.at(-1);
    if (!credential) throw new Error('the test authenticator holds no credential');
    let counter = overrides.counter;
    if (counter === undefined) {
      counter = credential.keepsCounter ? credential.counter : 0;
      if (credential.keepsCounter) credential.counter += 1;
    }
    const authData = authenticatorData(
      overrides.rpId ?? options.rpId ?? '',
      this.#flags(credential, overrides),
      counter,
    );
    const clientDataJSON = Buffer.from(
      JSON.stringify({
        type: 'webauthn.get',
        challenge: overrides.challenge ?? options.challenge,
        origin: overrides.origin ?? this.origin,
        crossOrigin: false,
      }),
    );
    const signed = Buffer.concat([authData, sha256(clientDataJSON)]);
    const signature = sign(
      'sha256',
      overrides.badSignature ? randomBytes(32) : signed,
      credential.privateKey,
    );
    const userHandle = overrides.userHandle === undefined ? credential.userHandle : overrides.userHandle;
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle !== null && { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  #flags(credential: TestCredential, overrides: CeremonyOverrides): number {
    return (
      FLAG_UP |
      (overrides.userVerified === false ? 0 : FLAG_UV) |
      (credential.backupEligible ? FLAG_BE | FLAG_BS : 0)
    );
  }
}
