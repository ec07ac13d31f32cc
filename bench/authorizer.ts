import type { APIGatewayTokenAuthorizerEvent, Context } from 'aws-lambda';
import { lambdaContext } from '../infra/local/events.ts';
import type { LocalServer } from '../infra/local/server.ts';
import { nowSeconds } from '../lib/config.ts';
import { defaultServices } from '../lib/services.ts';
import { verifyToken } from '../lib/tokens/jwt.ts';
import { audienceOf } from '../lib/tokens/pair.ts';
import { compare, fmtNs, fmtRatio, nsPerAsyncCall, type Row } from './measure.ts';

/**
 * The authorizer, warm, through its real handler against the in-process store, against the least it could
 * do: our verify plus its one DynamoDB request (a consistent `BatchGetItem` of the session and its user's
 * account, which whole-user revocation needs), on the same client, in the same run.
 */
export async function benchAuthorizer(server: LocalServer): Promise<Row[]> {
  {
    const { handler } = (await import('../functions/authorizer.ts')) as unknown as {
      handler: (event: APIGatewayTokenAuthorizerEvent, context: Context) => Promise<{ principalId: string }>;
    };
    const context = lambdaContext('authorizer');
    const services = defaultServices();
    const username = `bench-authz-${Date.now()}`;
    const password = 'correct horse battery staple';
    const post = (path: string, body: unknown) =>
      fetch(server.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await post('/auth/register', { username, password });
    const { accessToken } = (await (await post('/auth/login', { username, password })).json()) as {
      accessToken: string;
    };
    const event: APIGatewayTokenAuthorizerEvent = {
      type: 'TOKEN',
      authorizationToken: `Bearer ${accessToken}`,
      methodArn: 'arn:aws:execute-api:local:000000000000:local/local/GET/me',
    };
    const viaHandler = async () => {
      const result = await handler(event, context);
      if (!result.principalId) throw new Error('authorizer refused a valid token');
    };
    const floor = async () => {
      const ring = await services.keys.getKeyRing();
      const { claims } = verifyToken(ring, 'access', accessToken, audienceOf(services.config), nowSeconds());
      const { session } = await services.sessions.getSessionWithAccount(claims.sid, claims.sub);
      if (!session) throw new Error('no session');
    };
    // dynalite and the SDK take a while to settle: warm both paths well before timing.
    for (let i = 0; i < 1000; i += 1) {
      await viaHandler();
      await floor();
    }
    const iterations = 100;
    const result = await compare(
      () => nsPerAsyncCall(viaHandler, iterations),
      () => nsPerAsyncCall(floor, iterations),
      25,
    );
    return [
      {
        figure: 'authorizer per request / (verify + one BatchGetItem of session and account)',
        value: `${fmtRatio(result.ratio)} (${fmtNs(result.subject)} vs ${fmtNs(result.baseline)})`,
        budget: '<= 1.20x',
        met: result.ratio <= 1.2,
      },
    ];
  }
}
