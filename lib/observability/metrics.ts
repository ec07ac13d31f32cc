import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import type { ErrorCode } from '../errors.ts';
import { METRICS_NAMESPACE, type MetricName, metricNames, SERVICE_NAME } from './names.ts';

export { METRICS_NAMESPACE, type MetricName, metricNames, SERVICE_NAME } from './names.ts';

/**
 * The process's structured JSON logger (Powertools). Only what is passed to it explicitly is logged: never an
 * event, a body, a header or a token, so that secrets cannot reach the logs by accident.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });

/** The process's metrics buffer, flushed as one EMF line at the end of each invocation that added any. */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
});

/** Counts one occurrence of `name` in this invocation. */
export function countMetric(name: MetricName): void {
  metrics.addMetric(name, MetricUnit.Count, 1);
}

/** The metric an error answer counts towards, if any: failed logins and 429s (the login lockout). */
const metricOfErrorCode: Partial<Record<ErrorCode, MetricName>> = {
  invalid_credentials: metricNames.failedLogin,
  too_many_attempts: metricNames.throttled,
};

/** Counts the metric that an error answered with `code` stands for (nothing for most codes). */
export function countErrorMetric(code: ErrorCode): void {
  const name = metricOfErrorCode[code];
  if (name) countMetric(name);
}

/**
 * The observability middlewares for a middy chain: the Lambda context on every log line (never the event:
 * `logEvent` is pinned off so that `POWERTOOLS_LOGGER_LOG_EVENT` cannot switch token logging on), and a flush
 * of the metrics buffer after each invocation. Powertools' own `logMetrics` middleware would warn on every
 * invocation that counted nothing (most of them); this flush publishes only when there is something to publish.
 */
export function observability(): MiddlewareObj[] {
  const flush = () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return [
    injectLambdaContext(logger, { logEvent: false, resetKeys: true }) as MiddlewareObj,
    { after: flush, onError: flush },
  ];
}
