// The software authenticator lives with the bench, which signs in with it too (bench never imports test helpers).
export {
  type CeremonyOverrides,
  TestAuthenticator,
  type TestCredential,
} from '../../bench/software-authenticator.ts';
