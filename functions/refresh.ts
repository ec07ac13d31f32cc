import { authorizationHeader, httpFunction } from '../lib/http/function.ts';
import { bearerToken, bodyObject, optionalString, requiredString } from '../lib/http/input.ts';
import { logEvent } from '../lib/observability/log.ts';
import { countMetric, metricNames } from '../lib/observability/metrics.ts';
import { type RefreshOutcome, refresh } from '../lib/operations/refresh.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

const observe = (outcome: RefreshOutcome, claims: { sub: string; sid: string }) => {
  if (outcome === 'rotated') return countMetric(metricNames.refresh);
  countMetric(metricNames.reuseDetected);
  // Ids, not tokens: enough to find the user and the session the alarm is about.
  logEvent('warn', 'refresh token reuse detected; the session was revoked', {
    userId: claims.sub,
    sessionId: claims.sid,
  });
};

/** `POST /auth/refresh`: rotates the refresh token and issues a new pair (API.md's checks, in order). */
export const handler = httpFunction(async (event) => {
  const body = bodyObject(event.body);
  const refreshToken = requiredString(body, 'refreshToken');
  // The access token may come in the body or as the Bearer header; the body wins when both are sent.
  const accessToken = optionalString(body, 'accessToken') ?? bearerToken(authorizationHeader(event));
  return { statusCode: 200, body: await refresh(services, { refreshToken, accessToken }, observe) };
});
