import { describeThirdPartyVerifiers } from '../support/interop.ts';

// aws-jwt-verify and jose against the local service signing with ES256 (see test/support/interop.ts).
describeThirdPartyVerifiers('ES256');
