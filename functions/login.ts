import { httpFunction } from '../lib/http/function.ts';
import { countMetric, metricNames } from '../lib/observability/metrics.ts';
import { login } from '../lib/operations/login.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/login`: checks the password and starts a session with a new token pair. */
export const handler = httpFunction(async (event) => {
  const pair = await login(services, event.body);
  countMetric(metricNames.login);
  return { statusCode: 200, body: pair };
});
