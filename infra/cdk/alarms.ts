import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, metricNames, SERVICE_NAME } from '../../lib/observability/names.ts';
import { type FunctionName, functionNames } from '../routes.ts';
import { logicalName } from './functions.ts';

export interface AuthAlarmsProps {
  functions: Record<FunctionName, lambda.IFunction>;
  /** An existing SNS topic every alarm notifies; unset: alarms without actions (visible in the console). */
  alarmTopicArn: string | undefined;
}

/** An alarm on every function's errors, and one on any refresh-token reuse (a stolen token, or a bad client). */
export class AuthAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AuthAlarmsProps) {
    super(scope, id);
    const alarmAction = props.alarmTopicArn
      ? new cloudwatchActions.SnsAction(sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn))
      : undefined;
    for (const name of functionNames) {
      this.alarms.push(
        props.functions[name]
          .metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM })
          .createAlarm(this, `${logicalName(name)}ErrorsAlarm`, {
            alarmDescription: `The ${name} function failed (an unhandled error, a timeout or a crash).`,
            threshold: 1,
            evaluationPeriods: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
      );
    }
    this.alarms.push(
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: metricNames.reuseDetected,
        dimensionsMap: { service: SERVICE_NAME },
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(5),
      }).createAlarm(this, 'RefreshTokenReuseAlarm', {
        alarmDescription:
          'A rotated-out refresh token was presented again: a stolen token, or a client that does not keep the newest one. The session was revoked.',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.#alarmAction = alarmAction;
    if (alarmAction) for (const alarm of this.alarms) alarm.addAlarmAction(alarmAction);
  }

  readonly #alarmAction: cloudwatchActions.SnsAction | undefined;

  /** Adds an alarm made elsewhere (the mail dead-letter queue's), notifying the same topic. */
  add(alarm: cloudwatch.Alarm): void {
    this.alarms.push(alarm);
    if (this.#alarmAction) alarm.addAlarmAction(this.#alarmAction);
  }
}
