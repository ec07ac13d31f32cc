import { KeyRingError } from '../../lib/tokens/keyring.ts';
import { startLocalServer } from './server.ts';

/** `npm start`: the whole service on 127.0.0.1, with its embedded DynamoDB-compatible store. */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  // CloudWatch metrics (EMF lines on stdout) mean nothing on a laptop; set it to false to see them anyway.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  let server: Awaited<ReturnType<typeof startLocalServer>>;
  try {
    server = await startLocalServer({
      port,
      jwtSecret: process.env.JWT_SECRET,
      issuer: process.env.JWT_ISSUER,
      dynamoDbEndpoint: process.env.DYNAMODB_ENDPOINT,
    });
  } catch (error) {
    if (error instanceof KeyRingError) {
      console.error(`JWT_SECRET is not usable: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  if (server.ephemeralKey) {
    console.warn(
      'warning: JWT_SECRET is not set, so tokens are signed with a random key for this run only (set JWT_SECRET to keep them valid across restarts)',
    );
  }
  const url = server.url;
  console.log(`auth service listening on ${url}
demo page: ${url}/ (sign up, log in and watch the client refresh; a short ACCESS_TOKEN_TTL shows it sooner)
store: ${process.env.DYNAMODB_ENDPOINT ? process.env.DYNAMODB_ENDPOINT : 'embedded (in memory; gone when the server stops)'}

try it:
  curl -s -X POST ${url}/auth/register -H 'content-type: application/json' -d '{"username":"alice","password":"correct horse battery"}'
  curl -s -X POST ${url}/auth/login    -H 'content-type: application/json' -d '{"username":"alice","password":"correct horse battery"}'
  curl -s ${url}/me -H "authorization: Bearer $ACCESS_TOKEN"
  curl -s -X POST ${url}/auth/refresh  -H 'content-type: application/json' -d "{\\"refreshToken\\":\\"$REFRESH_TOKEN\\"}"
  curl -s -X POST ${url}/auth/logout   -H "authorization: Bearer $ACCESS_TOKEN" -o /dev/null -w '%{http_code}\\n'

Ctrl-C stops it.`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping...');
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error('could not start the local server:', error instanceof Error ? error.message : error);
  process.exit(1);
});
