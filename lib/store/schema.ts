/* Pure constants, no side effects: the AWS stack imports these at synth without loading the SDK. */

/** The table's key and index names: shared by the stores, the local server and the AWS stack. */
export const tableSchema = {
  partitionKey: 'pk',
  ttlAttribute: 'ttl',
  /**
   * A sparse index of the sessions that may still be live, by user and revocation generation: only a session
   * item carries its key attribute (`<userId>#<generation>`), and a revocation removes it. A whole-user
   * revocation moves the user to the next generation, which leaves every older entry out of every later query
   * without touching it: listing and logging out everywhere cost what the live sessions cost, not the history.
   * Keys only: what a listing shows is read from the items themselves, consistently.
   */
  liveSessionIndex: { name: 'liveSessionsByUser', partitionKey: 'liveUserKey' },
  /** Every item's partition key starts with its kind; the stack's IAM conditions name these prefixes. */
  keyPrefix: {
    user: 'user#',
    session: 'session#',
    address: 'address#',
    account: 'account#',
    /** The claim of an e-mail address by one account (uniqueness). */
    email: 'email#',
    /** A mailed link (verification, reset), keyed by the hash of its secret. */
    link: 'link#',
    /** A fixed-window counter of mails or requests (per account, per client address). */
    limit: 'limit#',
    /** A pending second-factor login (`mfaToken`), by the token's hash. */
    mfaChallenge: 'mfa-challenge#',
    /** A user's passkeys (WebAuthn credentials), one item per user id. */
    passkeys: 'passkeys#',
    /** A pending WebAuthn ceremony's challenge (single-use, 300 s). */
    webauthnChallenge: 'webauthn-challenge#',
    device: 'device#',
  },
} as const;
