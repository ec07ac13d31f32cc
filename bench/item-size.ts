import { type AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';

/**
 * DynamoDB's size of one attribute value in bytes, by the rules it bills with (Developer Guide, "Item sizes
 * and formats"): a string its UTF-8 bytes, a binary its bytes, a number about one byte per two significant
 * digits plus one, a boolean or null one byte, a list or map 3 bytes plus one per element plus the elements
 * (and, in a map, the names).
 */
export function attributeValueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.N !== undefined) return numberSize(value.N);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS) return value.SS.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
  if (value.NS) return value.NS.reduce((sum, n) => sum + numberSize(n), 0);
  if (value.BS) return value.BS.reduce((sum, b) => sum + b.byteLength, 0);
  if (value.L) return 3 + value.L.reduce((sum, v) => sum + 1 + attributeValueSize(v), 0);
  if (value.M)
    return (
      3 +
      Object.entries(value.M).reduce(
        (sum, [name, v]) => sum + 1 + Buffer.byteLength(name) + attributeValueSize(v),
        0,
      )
    );
  return 0;
}

function numberSize(text: string): number {
  const digits = text.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length === 0 ? 1 : 1 + Math.ceil(digits.length / 2) + (text.startsWith('-') ? 1 : 0);
}

/** An item's size in bytes as DynamoDB bills it: every attribute's name (UTF-8) plus its value. */
export function itemSize(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + attributeValueSize(value),
    0,
  );
}

/** The write units a write of an item of `bytes` bills (standard table class, on-demand or provisioned): 1 per KB. */
export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** Reads one item by partition key, marshalled, strongly consistent: for measuring sizes. */
export async function storedItem(
  client: DynamoDBClient,
  tableName: string,
  pk: string,
): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
  );
  return Item;
}

export { DynamoDBClient };

/** A POST as the caller sends it, answering the parsed JSON body (or `undefined` for an empty one). */
export type Post = (
  path: string,
  body: unknown,
  options: { headers?: Record<string, string>; sourceIp?: string },
) => Promise<{ accessToken?: unknown; refreshToken?: unknown } | undefined>;

/**
 * The longest client a session item records: the longest name registration takes (64), a `User-Agent` at the
 * length kept (256, `MAX_CLIENT_INFO_LENGTH`), an IPv6 address written out in full.
 */
export const LONGEST_CLIENT = {
  username: (prefix: string) => `${prefix}-${'x'.repeat(63 - prefix.length)}`,
  userAgent: `Mozilla/5.0 (${'Windows NT 10.0; Win64; x64; '.repeat(10)})`.slice(0, 256),
  sourceIp: '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
};

export interface SessionItemSizes {
  /** Bytes of the session item after the login, the first refresh and the logout. */
  login: number;
  refresh: number;
  logout: number;
}

/**
 * Registers a user with the longest client ({@link LONGEST_CLIENT}), logs in, refreshes once and logs out,
 * and measures the session item after each step: what each of those writes bills.
 */
export async function sessionItemSizes(
  post: Post,
  raw: DynamoDBClient,
  tableName: string,
  usernamePrefix: string,
): Promise<SessionItemSizes> {
  const username = LONGEST_CLIENT.username(usernamePrefix);
  const password = 'correct horse battery staple';
  const client = { headers: { 'user-agent': LONGEST_CLIENT.userAgent }, sourceIp: LONGEST_CLIENT.sourceIp };
  await post('/auth/register', { username, password }, client);
  const login = await post('/auth/login', { username, password }, client);
  if (typeof login?.refreshToken !== 'string') throw new Error('the login gave no tokens');
  const sid = JSON.parse(Buffer.from(login.refreshToken.split('.')[1] ?? '', 'base64url').toString()).sid;
  const size = async () => {
    const item = await storedItem(raw, tableName, `session#${sid}`);
    if (!item) throw new Error('no session item');
    return itemSize(item);
  };
  const afterLogin = await size();
  const refreshed = await post('/auth/refresh', { refreshToken: login.refreshToken }, client);
  if (typeof refreshed?.accessToken !== 'string') throw new Error('the refresh gave no tokens');
  const afterRefresh = await size();
  await post('/auth/logout', undefined, {
    ...client,
    headers: { ...client.headers, authorization: `Bearer ${refreshed.accessToken}` },
  });
  return { login: afterLogin, refresh: afterRefresh, logout: await size() };
}
