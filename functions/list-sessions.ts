import { httpFunction } from '../lib/http/function.ts';
import { listSessions } from '../lib/operations/list-sessions.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `GET /auth/sessions`: the caller's live sessions, newest first. */
export const handler = httpFunction(async ({ bearerToken }) => ({
  statusCode: 200,
  body: { sessions: await listSessions(services, bearerToken) },
}));
