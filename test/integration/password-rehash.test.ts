import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../infra/local/dynamo.ts';
import { defaults } from '../../lib/config.ts';
import { hashPassword } from '../../lib/passwords/argon2.ts';
import {
  DEFAULT_PASSWORD,
  startTestService,
  TEST_ARGON2_PARAMS,
  type TestService,
} from '../support/service.ts';

/** Parameters other than the service's current ones, as an older release might have stored them. */
const OLDER_PARAMS = { memory: 4096, passes: 1, parallelism: 1 };
/** The PHC prefix of a hash at the service's current parameters (the test tier's, see TEST_ARGON2_PARAMS). */
const { memory, passes, parallelism } = TEST_ARGON2_PARAMS;
const currentPrefix = `$argon2id$v=19$m=${memory},t=${passes},p=${parallelism}$`;

let service: TestService;
let db: DynamoDBDocumentClient;
beforeAll(async () => {
  service = await startTestService();
  db = DynamoDBDocumentClient.from(localDynamoClient(service.server.dynamoDbEndpoint));
});
afterAll(async () => {
  db.destroy();
  await service.close();
});

/** Registers `username`, then replaces its stored hash with one made at the older parameters. */
async function userWithOlderHash(username: string): Promise<string> {
  expect((await service.post('/auth/register', { username, password: DEFAULT_PASSWORD })).status).toBe(201);
  const older = await hashPassword(DEFAULT_PASSWORD, OLDER_PARAMS);
  await db.send(
    new UpdateCommand({
      TableName: process.env.TABLE_NAME ?? defaults.TABLE_NAME,
      Key: { pk: `user#${username}` },
      UpdateExpression: 'SET passwordHash = :hash',
      ExpressionAttributeValues: { ':hash': older },
    }),
  );
  return older;
}

describe('a password hash made with older parameters', () => {
  it('is upgraded to the current parameters on the next successful login, and the password still works', async () => {
    const older = await userWithOlderHash('rehash-user');
    expect(older.startsWith('$argon2id$v=19$m=4096,t=1,p=1$')).toBe(true);

    expect((await service.login('rehash-user')).status).toBe(200);

    const upgraded = (await service.storedItem('user#rehash-user'))?.passwordHash as string;
    expect(upgraded).not.toBe(older);
    expect(upgraded.startsWith(currentPrefix)).toBe(true);
    // The new hash is of the same password: it logs in, and a wrong password still does not.
    expect((await service.login('rehash-user')).status).toBe(200);
    expect((await service.login('rehash-user', 'a different password')).status).toBe(401);
    expect((await service.storedItem('user#rehash-user'))?.passwordHash).toBe(upgraded);
  });

  it('is left alone by a failed login', async () => {
    const older = await userWithOlderHash('rehash-wrong');
    expect((await service.login('rehash-wrong', 'not the right password')).status).toBe(401);
    expect((await service.storedItem('user#rehash-wrong'))?.passwordHash).toBe(older);
  });
});
