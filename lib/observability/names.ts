/* Pure constants, no side effects: the AWS stack imports these at synth without instantiating Powertools. */

/** The service name on every log line and the `service` dimension of every metric. */
export const SERVICE_NAME = 'auth-service';
/** The CloudWatch namespace of the service's metrics (the stack's alarms read from it). */
export const METRICS_NAMESPACE = 'AuthService';

/**
 * The metrics the service emits (EMF, one `Count` each). The stack alarms on `RefreshTokenReuse`; the names are
 * shared with it so that the two cannot drift.
 */
export const metricNames = {
  login: 'Logins',
  failedLogin: 'FailedLogins',
  refresh: 'Refreshes',
  /** A refresh answered again, within `REFRESH_REUSE_GRACE`, with the pair an earlier rotation issued. */
  refreshRetried: 'RefreshRetries',
  reuseDetected: 'RefreshTokenReuse',
  throttled: 'Throttles',
  authorizerDenial: 'AuthorizerDenials',
  /** A mail the transport accepted. */
  mailSent: 'MailsSent',
  /** A send the transport refused or failed (it is retried; the dead-letter queue alarm says when it gives up). */
  mailFailure: 'MailFailures',
} as const;
export type MetricName = (typeof metricNames)[keyof typeof metricNames];
