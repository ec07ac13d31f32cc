import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionProfiles } from '../../infra/cdk/functions.ts';
import { defaultSettings, settingsFromContext } from '../../infra/cdk/settings.ts';
import { functionNames } from '../../infra/routes.ts';
import { lambdaOf, type Synthesized, statementsOf, synthTemplate } from './template-helpers.ts';

const ORIGINS = 'https://app.example.com,https://admin.example.com';
const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:auth-alarms';
const KMS_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let template: Template;
let synthesized: Synthesized;
beforeAll(() => {
  synthesized = synthTemplate({
    authorizerCacheTtlSeconds: '300',
    corsOrigins: ORIGINS,
    deletionProtection: 'false',
    alarmTopicArn: TOPIC,
    signingKeyKmsKeyArn: KMS_KEY,
    logRetentionDays: '90',
  });
  template = synthesized.template;
  // A synth with cdk-nag is seconds of CPU; on a busy 2-core machine, many more.
}, 120_000);

describe('settings from CDK context', () => {
  it('sets the authorizer result-cache TTL', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 300 });
  });

  it('switches deletion protection off, and lets the table go with the stack', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: { DeletionProtectionEnabled: false },
      DeletionPolicy: 'Delete',
    });
  });

  it('passes the relying party (the CORS origins on the first one) to the functions', () => {
    const env = lambdaOf(template, 'passkey-login').props.Environment.Variables;
    expect(env).toMatchObject({
      WEBAUTHN_RP_ID: 'app.example.com',
      WEBAUTHN_ORIGINS: 'https://app.example.com',
      WEBAUTHN_RP_NAME: 'auth-service',
    });
  });

  it('passes the CORS origins to the HTTP functions only', () => {
    for (const name of functionNames) {
      const env = lambdaOf(template, name).props.Environment.Variables;
      expect(env.CORS_ORIGINS, name).toBe(functionProfiles[name].http ? ORIGINS : undefined);
    }
  });

  it('answers CORS preflight on every resource for the configured origins', () => {
    const preflights = template.findResources('AWS::ApiGateway::Method', {
      Properties: { HttpMethod: 'OPTIONS' },
    });
    // The root, /auth, the nine /auth/* resources, /auth/sessions/{sessionId}, /auth/passkeys/{passkeyId},
    // /auth/passkeys/register (and its /options), /auth/passkeys/login (and its /options), /auth/login/mfa (and
    // its /options), /auth/mfa and its /totp, /totp/confirm and /recovery-codes, /auth/email/verify and /resend,
    // /auth/password/forgot and /reset, /me and /me/sensitive, /.well-known and its two documents, the pages
    // /verify-email and /reset-password.
    expect(Object.keys(preflights)).toHaveLength(35);
    for (const method of Object.values(preflights)) {
      expect(method.Properties.AuthorizationType).toBe('NONE');
      expect(method.Properties.Integration.Type).toBe('MOCK');
      const template = JSON.stringify(method.Properties.Integration.IntegrationResponses);
      expect(template).toContain('https://app.example.com');
      expect(template).toContain('https://admin.example.com');
    }
  });

  it('passes the nag checks with CORS on, with no stale acknowledgement (the synth passed validation)', () => {
    expect(synthesized.usedAcknowledgements.size).toBeGreaterThan(0);
    const stale = synthesized.acknowledgements.filter(
      (ack) => !synthesized.usedAcknowledgements.has(`${ack.path}|${ack.ruleId}`),
    );
    expect(stale).toEqual([]);
  });

  it("puts CORS headers on the authorizer's 401s (a thrown Unauthorized, and a step-up Deny's challenge)", () => {
    for (const [type, challenge] of [
      ['UNAUTHORIZED', "'Bearer'"],
      ['ACCESS_DENIED', 'context.authorizer.wwwAuthenticate'],
    ]) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseParameters: Match.objectLike({
          'gatewayresponse.header.Access-Control-Allow-Origin': 'method.request.header.Origin',
          'gatewayresponse.header.Vary': "'Origin'",
          'gatewayresponse.header.WWW-Authenticate': challenge,
        }),
      });
    }
  });

  it.each([
    ['UNAUTHORIZED', '401'],
    ['ACCESS_DENIED', '401'],
    ['MISSING_AUTHENTICATION_TOKEN', '404'],
    ['REQUEST_TOO_LARGE', '413'],
    ['THROTTLED', '429'],
    ['DEFAULT_5XX', '503'],
  ])(
    'lets a browser on an allowed origin read Retry-After and WWW-Authenticate on the gateway %s (%s)',
    (type, status) => {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status,
        ResponseParameters: Match.objectLike({
          'gatewayresponse.header.Access-Control-Allow-Origin': 'method.request.header.Origin',
          'gatewayresponse.header.Access-Control-Expose-Headers': "'Retry-After, WWW-Authenticate'",
        }),
      });
    },
  );

  it('grants kms:Decrypt on a customer-managed key only through SSM, only to the functions reading the key', () => {
    for (const name of functionNames) {
      const kms = statementsOf(template, name).filter((s) => [s.Action].flat().includes('kms:Decrypt'));
      if (!functionProfiles[name].readsSigningKey) {
        expect(kms, name).toEqual([]);
        continue;
      }
      expect(kms, name).toEqual([
        {
          Action: 'kms:Decrypt',
          Effect: 'Allow',
          Resource: KMS_KEY,
          Condition: {
            StringEquals: {
              'kms:ViaService': { 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
            },
          },
        },
      ]);
    }
  });

  it('notifies the alarm topic from every alarm', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    // One per function, refresh-token reuse, and the mail dead-letter queue.
    expect(alarms).toHaveLength(functionNames.length + 2);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([TOPIC]);
  });

  it('sets the log retention', () => {
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(90);
    }
  });
});

describe('settingsFromContext', () => {
  const from = (context: Record<string, unknown>) => settingsFromContext((key) => context[key]);

  it('defaults to deletion protection on, the cache off and CORS off', () => {
    expect(from({})).toEqual(defaultSettings);
    expect(defaultSettings).toMatchObject({
      deletionProtection: true,
      authorizerCacheTtlSeconds: 0,
      corsOrigins: [],
    });
  });

  it('refuses a wildcard or a path as a CORS origin', () => {
    expect(() => from({ corsOrigins: '*' })).toThrow(/exact origin/);
    expect(() => from({ corsOrigins: 'https://app.example.com/' })).toThrow(/exact origin/);
  });

  it('refuses a cache TTL API Gateway would refuse, and a retention CloudWatch does not offer', () => {
    expect(() => from({ authorizerCacheTtlSeconds: '3601' })).toThrow(/0 to 3600/);
    expect(() => from({ logRetentionDays: '31' })).toThrow(/one of/);
  });

  it('refuses a parameter name that is not a hierarchical SSM name', () => {
    expect(() => from({ signingKeyParameterName: 'jwt key' })).toThrow(/hierarchical/);
  });

  it('takes the relying party from the passkey origins, or else from the CORS origins on the first one', () => {
    expect(from({ webauthnOrigins: 'https://app.example.com', webauthnRpId: 'example.com' })).toMatchObject({
      webauthnRpId: 'example.com',
      webauthnOrigins: ['https://app.example.com'],
    });
    expect(from({ corsOrigins: 'https://app.example.com,https://admin.other.org' })).toMatchObject({
      webauthnRpId: 'app.example.com',
      webauthnOrigins: ['https://app.example.com'],
    });
    expect(from({})).toMatchObject({ webauthnRpId: undefined, webauthnOrigins: [] });
  });

  it('refuses passkey origins that are not on the RP ID, and an RP ID that is an address', () => {
    expect(() =>
      from({ webauthnOrigins: 'https://app.example.com,https://evil.example', webauthnRpId: 'example.com' }),
    ).toThrow(/evil\.example.*example\.com/);
    expect(() => from({ webauthnOrigins: 'https://10.0.0.1', webauthnRpId: '10.0.0.1' })).toThrow(
      /domain name/,
    );
    expect(() => from({ webauthnOrigins: 'http://app.example.com' })).toThrow(/https/);
  });
});
