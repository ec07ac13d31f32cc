import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionProfiles } from '../../infra/cdk/functions.ts';
import { MAIL_MAX_RECEIVES } from '../../infra/cdk/mail.ts';
import { functionNames } from '../../infra/routes.ts';
import { grantsOf, lambdaOf, statementsOf, synthTemplate } from './template-helpers.ts';

let template: Template;
let withSender: Template;
beforeAll(() => {
  template = synthTemplate().template;
  withSender = synthTemplate({
    mailFrom: 'Example Auth <auth@mail.example.org>',
    emailVerifyUrl: 'https://app.example.org/verify',
  }).template;
}, 240_000);

describe('the mail queue', () => {
  it('is encrypted, TLS-only, and hands a request that failed 5 deliveries to a dead-letter queue kept 14 days', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { maxReceiveCount: MAIL_MAX_RECEIVES, deadLetterTargetArn: Match.anyValue() },
      SqsManagedSseEnabled: true,
      VisibilityTimeout: functionProfiles.mailer.timeoutSeconds * 6,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 14 * 86400,
      SqsManagedSseEnabled: true,
    });
    expect(Object.keys(template.findResources('AWS::SQS::QueuePolicy'))).toHaveLength(2);
  });

  it('is consumed by the mailer, in batches that report failed messages one by one', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: lambdaOf(template, 'mailer').id },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('raises an alarm as soon as a request lands in the dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
});

describe('who may mail', () => {
  it('only the functions that queue mail may send to the queue, and nothing else of it', () => {
    for (const name of functionNames) {
      const sqs = grantsOf(template, name).filter((grant) => grant.startsWith('sqs:SendMessage'));
      expect(sqs.length, name).toBe(functionProfiles[name].enqueuesMail ? 1 : 0);
      if (functionProfiles[name].enqueuesMail) expect(sqs[0], name).toBe('sqs:SendMessage MailQueue.Arn');
      const env = lambdaOf(template, name).props.Environment.Variables;
      expect(env.MAIL_QUEUE_URL !== undefined, name).toBe(functionProfiles[name].enqueuesMail === true);
    }
  });

  it('only the mailer may send through SES, from the sender identity and with the sender address only', () => {
    for (const name of functionNames) {
      const ses = statementsOf(withSender, name).filter((s) =>
        [s.Action].flat().some((a: string) => a.startsWith('ses:')),
      );
      if (name !== 'mailer') {
        expect(ses, name).toEqual([]);
        continue;
      }
      expect(ses).toEqual([
        {
          Action: ['ses:SendEmail', 'ses:SendRawEmail'],
          Effect: 'Allow',
          Resource: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':ses:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':identity/mail.example.org',
              ],
            ],
          },
          Condition: { StringEquals: { 'ses:FromAddress': 'auth@mail.example.org' } },
        },
      ]);
    }
  });

  it('the mailer sends with SES from MAIL_FROM, with links to the configured pages or the stage’s', () => {
    const env = lambdaOf(withSender, 'mailer').props.Environment.Variables;
    expect(env.MAIL_TRANSPORT).toBe('ses');
    expect(env.MAIL_FROM).toBe('Example Auth <auth@mail.example.org>');
    expect(env.EMAIL_VERIFY_URL).toBe('https://app.example.org/verify');
    expect(JSON.stringify(env.PASSWORD_RESET_URL)).toContain('/v1/reset-password');
  });

  it('left unset, the links open the stack’s own pages: GET and HEAD of each are public methods of link-pages', () => {
    const env = lambdaOf(template, 'mailer').props.Environment.Variables;
    const { id: pages } = lambdaOf(template, 'link-pages');
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    for (const [variable, page] of [
      ['EMAIL_VERIFY_URL', 'verify-email'],
      ['PASSWORD_RESET_URL', 'reset-password'],
    ] as const) {
      // https://<api id>.execute-api.<region>.<suffix>/<stage>/<page>: the stage URL's page.
      const parts = env[variable]['Fn::Join'][1] as unknown[];
      expect(parts[0], variable).toBe('https://');
      expect(parts.at(-1), variable).toMatch(new RegExp(`^/v1/${page}$`));
      const [resourceId] = Object.entries(resources).find(
        ([, resource]) =>
          resource.Properties.PathPart === page && 'Fn::GetAtt' in resource.Properties.ParentId,
      ) ?? [''];
      const served = methods.filter((method) => method.Properties.ResourceId?.Ref === resourceId);
      expect(served.map((method) => method.Properties.HttpMethod).sort(), page).toEqual(['GET', 'HEAD']);
      for (const method of served) {
        expect(method.Properties.AuthorizationType, page).toBe('NONE');
        expect(JSON.stringify(method.Properties.Integration.Uri), page).toContain(`"${pages}","Arn"`);
      }
    }
  });

  it('the forgot-password function reads no account: only its client-address limit', () => {
    expect(grantsOf(template, 'forgot-password').filter((g) => g.startsWith('dynamodb:'))).toEqual([
      expect.stringMatching(/^dynamodb:GetItem /),
      expect.stringMatching(/^dynamodb:UpdateItem /),
    ]);
    const [statement] = statementsOf(template, 'forgot-password').filter((s) =>
      [s.Action].flat()[0]?.startsWith('dynamodb:'),
    );
    expect(statement?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['limit#*'] },
    });
  });
});
