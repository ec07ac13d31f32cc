import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { deliverMailRequest } from '../lib/mail/mailer.ts';
import { parseMailRequest } from '../lib/mail/messages.ts';
import { createMailTransport } from '../lib/mail/transport.ts';
import { describeError, logEvent } from '../lib/observability/log.ts';
import { observability } from '../lib/observability/metrics.ts';
import { defaultServices, provideMailTransport } from '../lib/services.ts';

// The one function that sends mail: only its bundle carries the transport.
provideMailTransport(createMailTransport);
const services = defaultServices();

/**
 * The mail queue's consumer: delivers each request (`deliverMailRequest`) and reports the ones that failed as
 * partial batch failures, so that only those come back (after the queue's visibility timeout: the backoff) and,
 * after the queue's `maxReceiveCount`, land in the dead-letter queue. A message that is not a mail request is
 * dropped with a log line: retrying it could never help.
 */
export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(observability())
  .handler(async (event) => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      const request = parseMailRequest(record.body);
      if (!request) {
        logEvent('error', 'mail request dropped: not a mail request', { messageId: record.messageId });
        continue;
      }
      try {
        await deliverMailRequest(services, request);
      } catch (error) {
        logEvent('warn', 'mail request failed; it will be retried', {
          messageId: record.messageId,
          kind: request.kind,
          ...describeError(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
