import { httpFunction } from '../lib/http.ts';
import { login } from '../lib/login.ts';
import { countMetric, metricNames } from '../lib/observability.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/login`: checks the password and starts a session with a new token pair. */
export const handler = httpFunction(async (event) => {
  const pair = await login(services, event.body);
  countMetric(metricNames.login);
  return { statusCode: 200, body: pair };
});
