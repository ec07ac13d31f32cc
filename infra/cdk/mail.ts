import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Deliveries a mail request gets before it is moved to the dead-letter queue; between them the queue's
 * visibility timeout is the backoff.
 */
export const MAIL_MAX_RECEIVES = 5;

/**
 * The mail queue: requests from the functions (never a secret: links are made by the mailer), consumed by the
 * mailer in small batches with partial-batch failures; a request that fails {@link MAIL_MAX_RECEIVES} times goes
 * to the dead-letter queue, kept 14 days, and any message there raises an alarm.
 */
export class AuthMail extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: { mailerTimeoutSeconds: number }) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'MailDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.queue = new sqs.Queue(this, 'MailQueue', {
      // AWS's advice for a Lambda source: at least six times the function's timeout.
      visibilityTimeout: Duration.seconds(props.mailerTimeoutSeconds * 6),
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAIL_MAX_RECEIVES },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /** Makes `mailer` the queue's consumer (batches of up to 10, failed messages reported one by one). */
  consumeWith(mailer: lambda.Function): void {
    mailer.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }));
  }

  /** An alarm as soon as any mail request lands in the dead-letter queue (a mail that was never sent). */
  deadLetterAlarm(scope: Construct): cloudwatch.Alarm {
    return this.deadLetterQueue
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) })
      .createAlarm(scope, 'MailDeadLetterAlarm', {
        alarmDescription:
          'A mail request failed every delivery and is in the dead-letter queue: a mail was not sent.',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
  }
}
