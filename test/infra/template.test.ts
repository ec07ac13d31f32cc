import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionNames, routes } from '../../infra/routes.ts';
import { grantsOf, lambdaOf, type Synthesized, statementsOf, synthTemplate } from './template-helpers.ts';

let synthesized: Synthesized;
let template: Template;
beforeAll(() => {
  synthesized = synthTemplate();
  template = synthesized.template;
  // A synth with cdk-nag is seconds of CPU; on a busy 2-core machine, many more.
}, 120_000);

const KEY_PARAMETER_ARN =
  'arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/auth-service/jwt-signing-keys';
const logs = (prefix: string) => [
  `logs:CreateLogStream ${prefix}Logs.Arn`,
  `logs:PutLogEvents ${prefix}Logs.Arn`,
];

describe('the DynamoDB table', () => {
  it('is on-demand with the TTL attribute, point-in-time recovery and deletion protection', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('has the sparse live-session index by user and generation, keys only', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'liveSessionsByUser',
          KeySchema: [{ AttributeName: 'liveUserKey', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });
});

describe('the functions', () => {
  it('are one per entry point, on nodejs24.x arm64, bundled as ESM', () => {
    template.resourceCountIs('AWS::Lambda::Function', functionNames.length);
    for (const name of functionNames) {
      const { props } = lambdaOf(template, name);
      expect(props.Runtime, name).toBe('nodejs24.x');
      expect(props.Architectures, name).toEqual(['arm64']);
      expect(props.Handler, name).toBe('index.handler');
    }
  });

  it('size memory for the password hashers and keep the rest small, with short timeouts', () => {
    const sizing = Object.fromEntries(
      functionNames.map((name) => {
        const { props } = lambdaOf(template, name);
        return [name, [props.MemorySize, props.Timeout]];
      }),
    );
    expect(sizing).toEqual({
      register: [1024, 10],
      login: [1024, 10],
      'login-mfa': [256, 8],
      'login-mfa-options': [256, 6],
      refresh: [256, 8],
      logout: [256, 8],
      'logout-all': [256, 8],
      'list-sessions': [256, 8],
      'revoke-session': [256, 8],
      'change-password': [1024, 10],
      'delete-account': [1024, 10],
      'get-account': [256, 8],
      'verify-email': [256, 8],
      'change-email': [1024, 10],
      'resend-verification': [256, 8],
      'forgot-password': [256, 8],
      'reset-password': [1024, 10],
      'totp-enrol': [1024, 10],
      'totp-confirm': [256, 8],
      'totp-disable': [1024, 10],
      'recovery-codes': [1024, 10],
      // It checks a password, as login does; the other passkey functions verify a signature at most.
      'passkey-register-options': [1024, 10],
      'register-passkey': [256, 8],
      'list-passkeys': [256, 8],
      'rename-passkey': [256, 8],
      'delete-passkey': [256, 8],
      'passkey-login-options': [256, 6],
      'passkey-login': [256, 8],
      me: [128, 3],
      discovery: [256, 6],
      'link-pages': [128, 3],
      authorizer: [256, 6],
      mailer: [256, 30],
    });
  });

  it('get the key parameter by name only, the table, issuer, audience and source maps in their env', () => {
    for (const name of functionNames.filter((n) => n !== 'me' && n !== 'link-pages')) {
      const env = lambdaOf(template, name).props.Environment.Variables;
      expect(env.JWT_SECRET_PARAM, name).toBe('/auth-service/jwt-signing-keys');
      expect(env.TABLE_NAME, name).toEqual({ Ref: expect.stringMatching(/^Table/) });
      expect(env.JWT_ISSUER, name).toBe('auth-service');
      expect(env.JWT_AUDIENCE, name).toBe('auth-service-api');
      expect(env.NODE_OPTIONS, name).toBe('--enable-source-maps');
      expect(env.CORS_ORIGINS, name).toBeUndefined();
    }
  });

  it('never carry a secret in their environment', () => {
    for (const name of functionNames) {
      const env = lambdaOf(template, name).props.Environment.Variables as Record<string, unknown>;
      expect(
        // PASSWORD_RESET_URL is a page's address (API.md), not a password.
        Object.keys(env).filter((key) => /SECRET(?!_PARAM)|KEY|PASSWORD(?!_RESET_URL)|TOKEN/i.test(key)),
        name,
      ).toEqual([]);
    }
  });

  it('each write to a log group of their own, kept for 30 days', () => {
    const groups = functionNames.map((name) => lambdaOf(template, name).props.LoggingConfig.LogGroup.Ref);
    expect(new Set(groups).size).toBe(functionNames.length);
    for (const name of functionNames) {
      const { props } = lambdaOf(template, name);
      const logGroupId = props.LoggingConfig.LogGroup.Ref;
      expect(template.findResources('AWS::Logs::LogGroup')[logGroupId]?.Properties.RetentionInDays).toBe(30);
    }
  });
});

describe('least privilege: each function may do exactly what its code does', () => {
  it('register: GetItem and PutItem (a new item, or reclaiming a deleted account’s name), DeleteItem (its own address claim, given back) on the table, the mail queue, no key', () => {
    expect(grantsOf(template, 'register')).toEqual([
      'dynamodb:DeleteItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:PutItem Table.Arn',
      ...logs('Register'),
      'sqs:SendMessage MailQueue.Arn',
    ]);
  });

  it('login: BatchGetItem, GetItem, PutItem, UpdateItem on the table and the key parameter', () => {
    expect(grantsOf(template, 'login')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:PutItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('Login'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('refresh: BatchGetItem, GetItem and UpdateItem on the table and the key parameter', () => {
    expect(grantsOf(template, 'refresh')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('Refresh'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('logout: UpdateItem on the table and the key parameter', () => {
    expect(grantsOf(template, 'logout')).toEqual([
      'dynamodb:UpdateItem Table.Arn',
      ...logs('Logout'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('logout-all: BatchGetItem and UpdateItem on the table (no index: nothing per session), and the key parameter', () => {
    expect(grantsOf(template, 'logout-all')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('LogoutAll'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('list-sessions: BatchGetItem on the table, Query on the live-session index only, and the key parameter', () => {
    expect(grantsOf(template, 'list-sessions')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:Query Table.Arn/index/liveSessionsByUser',
      ...logs('ListSessions'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('revoke-session: BatchGetItem and UpdateItem on the table and the key parameter', () => {
    expect(grantsOf(template, 'revoke-session')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('RevokeSession'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('change-password: BatchGetItem, GetItem and UpdateItem on the table, the key parameter, the mail queue (its notice)', () => {
    expect(grantsOf(template, 'change-password')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('ChangePassword'),
      'sqs:SendMessage MailQueue.Arn',
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('delete-account: BatchGetItem, DeleteItem, GetItem, UpdateItem on the table, Query on the index, and the key', () => {
    expect(grantsOf(template, 'delete-account')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:DeleteItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:Query Table.Arn/index/liveSessionsByUser',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('DeleteAccount'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('passkey-register-options: BatchGetItem, GetItem, PutItem and UpdateItem on the table and the key parameter', () => {
    expect(grantsOf(template, 'passkey-register-options')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:PutItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('PasskeyRegisterOptions'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('register-passkey: BatchGetItem, DeleteItem, GetItem and UpdateItem on the table, the mail queue and the key parameter', () => {
    expect(grantsOf(template, 'register-passkey')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:DeleteItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('RegisterPasskey'),
      'sqs:SendMessage MailQueue.Arn',
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('list, rename and delete passkeys: the session read and one passkey item action each, and the key; delete also reads the address for its notice and queues it', () => {
    expect(grantsOf(template, 'list-passkeys')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      ...logs('ListPasskeys'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
    expect(grantsOf(template, 'rename-passkey')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('RenamePasskey'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
    expect(grantsOf(template, 'delete-passkey')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('DeletePasskey'),
      'sqs:SendMessage MailQueue.Arn',
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('login-mfa-options: GetItem and PutItem on the table and nothing else, not even the key', () => {
    expect(grantsOf(template, 'login-mfa-options')).toEqual([
      'dynamodb:GetItem Table.Arn',
      'dynamodb:PutItem Table.Arn',
      ...logs('LoginMfaOptions'),
    ]);
  });

  it('passkey-login-options: PutItem on the table and nothing else, not even the key', () => {
    expect(grantsOf(template, 'passkey-login-options')).toEqual([
      'dynamodb:PutItem Table.Arn',
      ...logs('PasskeyLoginOptions'),
    ]);
  });

  it('passkey-login: BatchGetItem (a presented device token), DeleteItem, GetItem, PutItem and UpdateItem on the table and the key parameter', () => {
    expect(grantsOf(template, 'passkey-login')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      'dynamodb:DeleteItem Table.Arn',
      'dynamodb:GetItem Table.Arn',
      'dynamodb:PutItem Table.Arn',
      'dynamodb:UpdateItem Table.Arn',
      ...logs('PasskeyLogin'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it('authorizer: one BatchGetItem on the table and the key parameter', () => {
    expect(grantsOf(template, 'authorizer')).toEqual([
      'dynamodb:BatchGetItem Table.Arn',
      ...logs('Authorizer'),
      `ssm:GetParameter ${KEY_PARAMETER_ARN}`,
    ]);
  });

  it.each([
    ['register', ['user#*', 'account#*', 'email#*']],
    ['login', ['user#*', 'session#*', 'address#*', 'account#*', 'mfa-challenge#*', 'device#*', 'passkeys#*']],
    [
      'login-mfa',
      [
        'user#*',
        'session#*',
        'address#*',
        'account#*',
        'mfa-challenge#*',
        'device#*',
        'passkeys#*',
        'webauthn-challenge#*',
      ],
    ],
    ['login-mfa-options', ['mfa-challenge#*', 'passkeys#*', 'webauthn-challenge#*']],
    ['totp-enrol', ['user#*', 'session#*', 'account#*']],
    ['totp-confirm', ['user#*', 'session#*', 'account#*']],
    ['refresh', ['session#*', 'account#*']],
    ['logout', ['session#*']],
    ['logout-all', ['session#*', 'account#*']],
    ['list-sessions', ['session#*', 'account#*']],
    ['revoke-session', ['session#*', 'account#*']],
    ['change-password', ['user#*', 'session#*', 'account#*']],
    ['delete-account', ['user#*', 'session#*', 'account#*', 'passkeys#*']],
    ['get-account', ['user#*', 'session#*', 'account#*', 'passkeys#*']],
    ['reset-password', ['user#*', 'session#*', 'address#*', 'account#*', 'link#*']],
    ['authorizer', ['session#*', 'account#*']],
    ['passkey-register-options', ['user#*', 'session#*', 'account#*', 'passkeys#*', 'webauthn-challenge#*']],
    ['register-passkey', ['user#*', 'session#*', 'account#*', 'passkeys#*', 'webauthn-challenge#*']],
    ['list-passkeys', ['session#*', 'account#*', 'passkeys#*']],
    ['rename-passkey', ['session#*', 'account#*', 'passkeys#*']],
    ['delete-passkey', ['user#*', 'session#*', 'account#*', 'passkeys#*']],
    ['passkey-login-options', ['webauthn-challenge#*']],
    [
      'passkey-login',
      ['user#*', 'session#*', 'address#*', 'account#*', 'passkeys#*', 'webauthn-challenge#*', 'device#*'],
    ],
  ])('%s: its table actions reach only items whose key starts with %j', (name, prefixes) => {
    const tableStatements = statementsOf(template, name).filter((statement) =>
      [statement.Action]
        .flat()
        .some((action: string) => action !== 'dynamodb:Query' && action.startsWith('dynamodb:')),
    );
    expect(tableStatements).toHaveLength(1);
    expect(tableStatements[0]?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes },
    });
  });

  it('me: its log group and nothing else', () => {
    expect(grantsOf(template, 'me')).toEqual(logs('Me'));
  });

  it('link-pages: its log group and nothing else, and none of the service settings in its environment', () => {
    expect(grantsOf(template, 'link-pages')).toEqual(logs('LinkPages'));
    const env = lambdaOf(template, 'link-pages').props.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(env).sort()).toEqual(
      ['NODE_OPTIONS', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME'].sort(),
    );
  });

  it('uses no managed policy and no wildcard resource', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
    for (const name of functionNames) {
      for (const grant of grantsOf(template, name)) expect(grant, name).not.toMatch(/\*/);
    }
  });
});

describe('the REST API', () => {
  it('has every route of infra/routes.ts, and only those', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(routes.length);
    for (const route of routes) {
      const { id } = lambdaOf(template, route.function);
      template.hasResourceProperties('AWS::ApiGateway::Method', {
        HttpMethod: route.method,
        AuthorizationType: route.authorized ? 'CUSTOM' : 'NONE',
        Integration: {
          Type: 'AWS_PROXY',
          Uri: Match.objectLike({
            'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [id, 'Arn'] }])],
          }),
        },
      });
    }
  });

  it('guards GET /me with a TOKEN authorizer on the Authorization header, its result cache off by default', () => {
    const { id } = lambdaOf(template, 'authorizer');
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'TOKEN',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 0,
      AuthorizerUri: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [id, 'Arn'] }])] }),
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: Match.stringLikeRegexp('^TokenAuthorizer') },
    });
  });

  it('throttles the stage, and the routes that hash a password (login, register, password, account) tighter', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
          DataTraceEnabled: false,
        }),
        Match.objectLike({
          HttpMethod: 'POST',
          ResourcePath: '/~1auth~1login',
          ThrottlingRateLimit: 10,
          ThrottlingBurstLimit: 20,
        }),
        Match.objectLike({
          HttpMethod: 'POST',
          ResourcePath: '/~1auth~1register',
          ThrottlingRateLimit: 10,
          ThrottlingBurstLimit: 20,
        }),
        Match.objectLike({
          HttpMethod: 'POST',
          ResourcePath: '/~1auth~1password',
          ThrottlingRateLimit: 10,
          ThrottlingBurstLimit: 20,
        }),
        Match.objectLike({
          HttpMethod: 'DELETE',
          ResourcePath: '/~1auth~1account',
          ThrottlingRateLimit: 10,
          ThrottlingBurstLimit: 20,
        }),
      ]),
    });
  });

  it('writes access logs, without headers or bodies, to a log group kept 30 days', () => {
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0];
    const setting = stage?.Properties.AccessLogSetting;
    const logGroupId = setting.DestinationArn['Fn::GetAtt'][0];
    expect(template.findResources('AWS::Logs::LogGroup')[logGroupId]?.Properties.RetentionInDays).toBe(30);
    const format = JSON.parse(setting.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    expect(setting.Format).not.toMatch(/header|body|authorization/i);
  });

  it('answers the authorizer 401 and 403 with WWW-Authenticate: Bearer and the bodies of API.md', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      StatusCode: '401',
      ResponseParameters: Match.objectLike({ 'gatewayresponse.header.WWW-Authenticate': "'Bearer'" }),
      ResponseTemplates: { 'application/json': '{"message":"Unauthorized"}' },
    });
    // The authorizer denies only for step-up (RFC 9470): the Deny's context holds the whole challenge.
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'ACCESS_DENIED',
      StatusCode: '401',
      ResponseParameters: Match.objectLike({
        'gatewayresponse.header.WWW-Authenticate': 'context.authorizer.wwwAuthenticate',
      }),
      ResponseTemplates: { 'application/json': '{"message":"Unauthorized"}' },
    });
  });

  it("guards GET /me/sensitive with an uncached step-up authorizer on the authorizer function's alias step-up-mfa-age900", () => {
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'step-up-mfa-age900' });
    const authorizers = template.findResources('AWS::ApiGateway::Authorizer');
    const stepUp = Object.entries(authorizers).find(([, resource]) =>
      JSON.stringify(resource.Properties.AuthorizerUri).includes('StepUpMfaAge900'),
    );
    expect(stepUp, JSON.stringify(authorizers)).toBeDefined();
    expect(stepUp?.[1].Properties.AuthorizerResultTtlInSeconds).toBe(0);
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (method) => method.Properties.AuthorizerId?.Ref === stepUp?.[0],
    );
    expect(methods).toHaveLength(1);
  });

  it('answers an unknown route 404 not_found and a gateway throttle 429, in the service error form', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '404',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"error":"not_found"') },
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
      ResponseParameters: Match.objectLike({ 'gatewayresponse.header.Retry-After': "'1'" }),
    });
  });

  it('has no CORS preflight when no origin is configured', () => {
    template.resourcePropertiesCountIs('AWS::ApiGateway::Method', { HttpMethod: 'OPTIONS' }, 0);
  });
});

describe('logical ids', () => {
  // The stack became a thin user of the TokenAuthService construct; a deployed stack must update in place.
  it('are those of the stack from before the construct split, so an update replaces no table, role or log group', () => {
    const ids = Object.keys(template.toJSON().Resources);
    expect(ids).toEqual(
      expect.arrayContaining([
        'TableCD117FA1',
        'LoginFunction66F090C6',
        'LoginRoleEBF30D19',
        'LoginLogs2DAE3E89',
        'AuthorizerFunctionB4DBAA43',
        'ApiF70053CD',
        'ApiAccessLogsE9DF007D',
        'TokenAuthorizer82AECDDC',
        'RefreshTokenReuseAlarm76870CF5',
      ]),
    );
  });
});

describe('alarms and outputs', () => {
  it('alarms on every function error and on any refresh-token reuse', () => {
    for (const name of functionNames) {
      const { id } = lambdaOf(template, name);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'RefreshTokenReuse',
      Namespace: 'AuthService',
      Dimensions: [{ Name: 'service', Value: 'auth-service' }],
      Statistic: 'Sum',
      Threshold: 1,
    });
  });

  it('outputs the API URL once, without a trailing slash, so that $API/auth/login has no //', () => {
    const urls = Object.entries(template.toJSON().Outputs as Record<string, any>).filter(([, output]) =>
      JSON.stringify(output.Value).includes('execute-api'),
    );
    expect(urls.map(([id]) => id)).toEqual(['ApiUrl']);
    const parts = urls[0]?.[1].Value['Fn::Join'][1] as unknown[];
    expect(parts.at(-1)).toBe('/v1');
  });

  it('outputs the API URL and exports the authorizer function ARN', () => {
    const { id } = lambdaOf(template, 'authorizer');
    template.hasOutput('ApiUrl', {});
    template.hasOutput('AuthorizerFunctionArn', {
      Value: { 'Fn::GetAtt': [id, 'Arn'] },
      Export: { Name: 'AuthService-AuthorizerFunctionArn' },
    });
  });
});

describe('cdk-nag AwsSolutions checks (a finding left unacknowledged fails the synth above)', () => {
  it('were consulted: the stack has findings, each acknowledged', () => {
    expect(synthesized.usedAcknowledgements.size).toBeGreaterThan(0);
  });

  it('acknowledge only findings that really occur: no stale acknowledgement', () => {
    const stale = synthesized.acknowledgements.filter(
      (ack) => !synthesized.usedAcknowledgements.has(`${ack.path}|${ack.ruleId}`),
    );
    expect(stale).toEqual([]);
  });

  it('give each acknowledgement a reason a reviewer can judge', () => {
    for (const ack of synthesized.acknowledgements) {
      expect(ack.reason.length, `${ack.path} ${ack.ruleId}`).toBeGreaterThanOrEqual(80);
    }
  });

  it('acknowledge exactly the reviewed set of rules', () => {
    expect([...new Set(synthesized.acknowledgements.map((ack) => ack.ruleId))].sort()).toEqual([
      'AwsSolutions-APIG2',
      'AwsSolutions-APIG3',
      'AwsSolutions-APIG4',
      'AwsSolutions-APIG6',
      'AwsSolutions-COG4',
    ]);
  });
});
