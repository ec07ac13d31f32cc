/* Pure constants, no side effects: the AWS stack imports these at synth without loading the SDK. */

/** The table's key and index names: shared by the stores, the local server and the AWS stack. */
export const tableSchema = {
  partitionKey: 'pk',
  ttlAttribute: 'ttl',
  userIndex: { name: 'byUserId', partitionKey: 'userId' },
  /** Every item's partition key starts with its kind; the stack's IAM conditions name these prefixes. */
  keyPrefix: { user: 'user#', session: 'session#', address: 'address#' },
} as const;
