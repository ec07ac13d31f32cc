import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Post, sessionItemSizes } from '../../bench/item-size.ts';
import { localDynamoClient } from '../../infra/local/dynamo.ts';
import { defaultServices } from '../../lib/services.ts';
import { generateSigningKey, type SigningAlgorithm } from '../../lib/tokens/keyring.ts';
import { startTestService, TEST_SECRET, type TestService } from './service.ts';

/**
 * The session item's size bound for `algorithm` (one test file per algorithm: the functions read theirs at
 * import): after a login, a refresh and a logout with the longest client, the item is at most `bound` bytes,
 * so each of those writes bills `Math.ceil(bound / 1024)` write unit(s).
 */
export function itemSizeBound(algorithm: SigningAlgorithm, bound: number): void {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService(
      { SIGNING_ALG: algorithm },
      { jwtSecret: algorithm === 'HS256' ? TEST_SECRET : generateSigningKey(algorithm) },
    );
  });
  afterAll(() => service.close());

  it(`keeps a ${algorithm} session item within ${bound} bytes after a login, a refresh and a logout, with the longest client`, async () => {
    const raw = localDynamoClient(service.server.dynamoDbEndpoint);
    const post: Post = async (path, body, options) =>
      (await service.request('POST', path, { body, headers: options.headers, sourceIp: options.sourceIp }))
        .json;
    try {
      const sizes = await sessionItemSizes(post, raw, defaultServices().config.tableName, 'item-size');
      expect(sizes.login).toBeLessThanOrEqual(bound);
      expect(sizes.refresh).toBeLessThanOrEqual(bound);
      expect(sizes.logout).toBeLessThanOrEqual(bound);
      // The refresh is the largest: it adds the sealed pair, which the logout removes.
      expect(sizes.refresh).toBeGreaterThan(sizes.login);
      expect(sizes.logout).toBeLessThan(sizes.refresh);
    } finally {
      raw.destroy();
    }
  });
}
