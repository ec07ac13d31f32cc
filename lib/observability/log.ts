import { logger } from './metrics.ts';

/**
 * Writes one structured JSON log line through the Powertools logger. Only what is passed explicitly is logged:
 * never an event, a body, a header or a token, so secrets cannot reach the logs by accident.
 */
export function logEvent(
  level: 'info' | 'warn' | 'error',
  message: string,
  fields: Record<string, unknown> = {},
): void {
  logger[level](message, fields);
}

/** The loggable part of an error: its name, code and message, never its attached request or response. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error).slice(0, 200) };
  const cause = error.cause instanceof Error ? describeError(error.cause) : undefined;
  return { errorName: error.name, errorMessage: error.message.slice(0, 500), ...(cause && { cause }) };
}
