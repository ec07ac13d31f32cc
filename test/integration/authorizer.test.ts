import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../infra/local/events.ts';
import { useFakeClock } from '../support/clock.ts';
import { functionClients, injectFaults } from '../support/sdk-middleware.ts';
import { claimsOf, startTestService, type TestService, type TokenPairBody } from '../support/service.ts';

const KEY_CACHE_MAX_AGE = 5;
// Each test's fake clock starts again at the real time, so step well past any cache entry an earlier test made.
const PAST_KEY_CACHE = 60;
let service: TestService;
let authorizer: (event: any, context: Context) => Promise<any>;
/** Invokes the authorizer as Lambda does: with the event and a Lambda context. */
const handler = (event: unknown) => authorizer(event, lambdaContext('authorizer'));
beforeAll(async () => {
  service = await startTestService({ KEY_CACHE_MAX_AGE: String(KEY_CACHE_MAX_AGE) });
  ({ handler: authorizer } = await import('../../functions/authorizer.ts'));
});
afterAll(() => service.close());
afterEach(() => service.server.ssm.failWith(undefined));
const clock = useFakeClock();

const methodArn = 'arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/me';
let userCount = 0;
const newSession = (): Promise<TokenPairBody> => service.signUp(`guarded-${++userCount}`);

const tokenEvent = (token: string) => ({ type: 'TOKEN', authorizationToken: `Bearer ${token}`, methodArn });
const requestEvent = (token: string) => ({
  type: 'REQUEST',
  methodArn,
  headers: { Authorization: `Bearer ${token}` },
});
const httpApiEvent = (token: string) => ({
  version: '2.0',
  type: 'REQUEST',
  routeArn: 'arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/$default/GET/me',
  identitySource: [`Bearer ${token}`],
  headers: { authorization: `Bearer ${token}` },
  requestContext: {},
});

describe('REST API authorizer events', () => {
  it('allows a valid TOKEN event with an IAM policy for the stage, the user as principal and the context', async () => {
    const tokens = await newSession();
    const { sub, sid, auth_time } = claimsOf(tokens.accessToken);
    const result = await handler(tokenEvent(tokens.accessToken));
    expect(result).toEqual({
      principalId: sub,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'execute-api:Invoke',
            Effect: 'Allow',
            Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*',
          },
        ],
      },
      context: {
        userId: sub,
        username: `guarded-${userCount}`,
        sessionId: sid,
        roles: '',
        amr: 'pwd',
        authTime: String(auth_time),
      },
    });
  });

  it('allows a valid REQUEST event, reading the Authorization header', async () => {
    const tokens = await newSession();
    expect((await handler(requestEvent(tokens.accessToken))).principalId).toBe(
      claimsOf(tokens.accessToken).sub,
    );
  });

  it('throws Unauthorized for a logged-out session at once', async () => {
    const tokens = await newSession();
    await service.post('/auth/logout', { refreshToken: tokens.refreshToken });
    await expect(handler(tokenEvent(tokens.accessToken))).rejects.toThrow(/^Unauthorized$/);
  });

  it('throws Unauthorized for a REQUEST event without an Authorization header', async () => {
    await expect(handler({ type: 'REQUEST', methodArn, headers: {} })).rejects.toThrow(/^Unauthorized$/);
  });
});

describe('HTTP API (payload 2.0) simple responses', () => {
  it('answers isAuthorized true with the context for a valid token', async () => {
    const tokens = await newSession();
    const { sub, sid, auth_time } = claimsOf(tokens.accessToken);
    expect(await handler(httpApiEvent(tokens.accessToken))).toEqual({
      isAuthorized: true,
      context: {
        userId: sub,
        username: `guarded-${userCount}`,
        sessionId: sid,
        roles: '',
        amr: 'pwd',
        authTime: String(auth_time),
      },
    });
  });

  it('answers isAuthorized false for a revoked session', async () => {
    const tokens = await newSession();
    await service.post('/auth/logout', { refreshToken: tokens.refreshToken });
    expect((await handler(httpApiEvent(tokens.accessToken))).isAuthorized).toBe(false);
  });
});

describe('never allowing on an error', () => {
  it('refuses when DynamoDB fails, in both flavours', async () => {
    const tokens = await newSession();
    // At the authorizer's own client (and the functions', should the authorizer ever send through theirs).
    const faults = injectFaults(functionClients(), 'authorizer-test-faults');
    faults.inject({ fault: 'server-error' });
    try {
      await expect(handler(tokenEvent(tokens.accessToken))).rejects.toThrow(/^Unauthorized$/);
      expect((await handler(httpApiEvent(tokens.accessToken))).isAuthorized).toBe(false);
      expect(faults.failed).toBe(2);
    } finally {
      faults.remove();
    }
    expect((await handler(httpApiEvent(tokens.accessToken))).isAuthorized).toBe(true);
  });

  it('refuses when the parameter store fails after the key cache expires, and recovers when it answers', async () => {
    const tokens = await newSession();
    service.server.ssm.failWith(500);
    clock.advance(PAST_KEY_CACHE);
    await expect(handler(tokenEvent(tokens.accessToken))).rejects.toThrow(/^Unauthorized$/);
    service.server.ssm.failWith(undefined);
    expect((await handler(tokenEvent(tokens.accessToken))).principalId).toBe(
      claimsOf(tokens.accessToken).sub,
    );
  });
});

describe('the parameter store failing for the HTTP functions', () => {
  it('answers 503 service_unavailable with Retry-After, issuing no token', async () => {
    await service.post('/auth/register', {
      username: 'ssm-victim',
      password: 'correct horse battery staple',
    });
    service.server.ssm.failWith(500);
    clock.advance(PAST_KEY_CACHE);
    const response = await service.login('ssm-victim');
    expect(response.status).toBe(503);
    expect(response.json).toEqual({ error: 'service_unavailable', message: expect.any(String) });
    expect(response.headers.get('retry-after')).toBe('1');
    service.server.ssm.failWith(undefined);
    expect((await service.login('ssm-victim')).status).toBe(200);
  });
});
