import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigatewayv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUrlIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthService } from '../../infra/cdk/service.ts';
import { lambdaOf } from './template-helpers.ts';

/**
 * The construct as a team uses it in its own app: the service in one stack, the team's REST and HTTP APIs in
 * another, each route protected by one call.
 */
const newApp = () =>
  new App({
    outdir: mkdtempSync(join(tmpdir(), 'auth-construct-')),
    context: { 'aws:cdk:bundling-stacks': [] },
  });

describe('TokenAuthService in a consumer app', () => {
  let service: Template;
  let consumer: Template;
  let authorizerFunctionId: string;

  beforeAll(() => {
    const app = newApp();
    const serviceStack = new Stack(app, 'Auth');
    const auth = new TokenAuthService(serviceStack, 'Auth', {
      deletionProtection: false,
      corsOrigins: ['https://app.example.com'],
    });
    const apiStack = new Stack(app, 'Orders');
    const api = new apigateway.RestApi(apiStack, 'OrdersApi');
    const orders = api.root.addResource('orders');
    orders.addMethod('GET', new apigateway.MockIntegration(), { authorizer: auth.authorizerFor(api) });
    // A second route gets the same authorizer (and the API no second set of gateway responses).
    orders.addMethod('POST', new apigateway.MockIntegration(), { authorizer: auth.authorizerFor(api) });
    const httpApi = new apigatewayv2.HttpApi(apiStack, 'OrdersHttpApi');
    httpApi.addRoutes({
      path: '/orders',
      methods: [apigatewayv2.HttpMethod.GET],
      integration: new HttpUrlIntegration('Upstream', 'https://orders.internal.example.com'),
      authorizer: auth.httpAuthorizerFor(httpApi),
    });
    const assembly = app.synth();
    service = Template.fromJSON(assembly.getStackByName('Auth').template);
    consumer = Template.fromJSON(assembly.getStackByName('Orders').template);
    authorizerFunctionId = lambdaOf(service, 'authorizer').id;
    // A synth with cdk-nag is seconds of CPU; on a busy 2-core machine, many more.
  }, 120_000);

  it('builds the whole service: the table, one function per entry point, its API', () => {
    service.resourceCountIs('AWS::DynamoDB::Table', 1);
    service.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    expect(lambdaOf(service, 'login').props.Environment.Variables.CORS_ORIGINS).toBe(
      'https://app.example.com',
    );
  });

  it("gives the consumer's REST methods a TOKEN authorizer backed by the service's function", () => {
    consumer.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    consumer.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'TOKEN',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 0,
    });
    const authorizer = Object.values(consumer.findResources('AWS::ApiGateway::Authorizer'))[0];
    // The service stack exports its function's ARN and the consumer's authorizer imports it.
    expect(JSON.stringify(authorizer?.Properties.AuthorizerUri)).toContain('Fn::ImportValue');
    expect(JSON.stringify(authorizer?.Properties.AuthorizerUri)).toContain(authorizerFunctionId);
    const methods = consumer.findResources('AWS::ApiGateway::Method', {
      Properties: { AuthorizationType: 'CUSTOM' },
    });
    expect(
      Object.values(methods)
        .map((method) => method.Properties.HttpMethod)
        .sort(),
    ).toEqual(['GET', 'POST']);
    for (const method of Object.values(methods)) {
      expect(method.Properties.AuthorizerId).toEqual({ Ref: expect.stringMatching(/Authorizer/) });
    }
  });

  it('lets API Gateway invoke the function from that authorizer only, with the permission in the consumer stack', () => {
    consumer.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::ImportValue': Match.stringLikeRegexp(authorizerFunctionId) },
      SourceArn: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/authorizers/')])],
      }),
    });
    // Nothing in the service stack points back at the consumer: the two stacks do not depend on each other.
    expect(JSON.stringify(service.toJSON())).not.toContain('Orders');
  });

  it("answers the consumer's 401s with WWW-Authenticate (Bearer, or a step-up Deny's challenge), JSON bodies and the CORS origin", () => {
    consumer.resourceCountIs('AWS::ApiGateway::GatewayResponse', 2);
    for (const [type, challenge] of [
      ['UNAUTHORIZED', "'Bearer'"],
      ['ACCESS_DENIED', 'context.authorizer.wwwAuthenticate'],
    ]) {
      consumer.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: '401',
        ResponseParameters: Match.objectLike({
          'gatewayresponse.header.WWW-Authenticate': challenge,
          'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'",
          'gatewayresponse.header.Access-Control-Expose-Headers': "'Retry-After, WWW-Authenticate'",
        }),
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"message"') },
      });
    }
  });

  it("gives the consumer's HTTP API route a Lambda authorizer (payload 2.0, simple responses, no cache)", () => {
    consumer.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 0,
    });
    consumer.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'GET /orders',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: Match.stringLikeRegexp('Authorizer') },
    });
    const permissions = consumer.findResources('AWS::Lambda::Permission');
    expect(Object.keys(permissions)).toHaveLength(2);
  });
});

describe('TokenAuthService props', () => {
  it('are checked as the context settings are: a wildcard origin stops the synth', () => {
    const stack = new Stack(newApp(), 'Auth');
    expect(() => new TokenAuthService(stack, 'Auth', { corsOrigins: ['*'] })).toThrow(/exact origin/);
    expect(() => new TokenAuthService(stack, 'Other', { authorizerCacheTtlSeconds: 4000 })).toThrow(
      /0 to 3600/,
    );
  });

  it("answer the service's own API with its own authorizer", () => {
    const stack = new Stack(newApp(), 'Auth');
    const auth = new TokenAuthService(stack, 'Auth', { deletionProtection: false });
    const authorizer = auth.authorizerFor(auth.api);
    expect(authorizer.authorizerId).toBe(auth.authorizerFor(auth.api).authorizerId);
    // The default one, and the step-up one of GET /me/sensitive.
    Template.fromStack(stack).resourceCountIs('AWS::ApiGateway::Authorizer', 2);
  });

  it('give each step-up rule set its own uncached authorizer, invoking the one function through an alias named by the rules', () => {
    const app = newApp();
    const stack = new Stack(app, 'Auth', { env: { account: '111122223333', region: 'eu-west-1' } });
    const auth = new TokenAuthService(stack, 'Auth', { deletionProtection: false });
    const orders = new Stack(app, 'Orders', { env: { account: '111122223333', region: 'eu-west-1' } });
    const api = new apigateway.RestApi(orders, 'OrdersApi');
    const plain = auth.authorizerFor(api);
    const strict = auth.authorizerFor(api, { requireMfa: true, maxAuthAge: 300 });
    const mfaOnly = auth.authorizerFor(api, { requireMfa: true });
    expect(auth.authorizerFor(api, { maxAuthAge: 300, requireMfa: true })).toBe(strict);
    expect(new Set([plain, strict, mfaOnly]).size).toBe(3);
    for (const [authorizer, path] of [
      [plain, 'plain'],
      [strict, 'strict'],
      [mfaOnly, 'mfa'],
    ] as const)
      api.root.addResource(path).addMethod('GET', new apigateway.MockIntegration(), { authorizer });
    const service = Template.fromStack(stack);
    service.hasResourceProperties('AWS::Lambda::Alias', { Name: 'step-up-mfa-age300' });
    service.hasResourceProperties('AWS::Lambda::Alias', { Name: 'step-up-mfa' });
    const consumer = Template.fromStack(orders);
    consumer.resourceCountIs('AWS::ApiGateway::Authorizer', 3);
    const ttls = Object.values(consumer.findResources('AWS::ApiGateway::Authorizer')).map(
      (resource) => resource.Properties.AuthorizerResultTtlInSeconds,
    );
    // With maxAuthAge nothing is cached: a cached Allow would outlive the age.
    expect(ttls.filter((ttl) => ttl === 0).length).toBeGreaterThanOrEqual(1);
    consumer.resourceCountIs('AWS::ApiGateway::GatewayResponse', 2);
  });

  it('refuse an API in another account or region, where an authorizer cannot call the function', () => {
    const app = newApp();
    const auth = new TokenAuthService(
      new Stack(app, 'Auth', { env: { account: '111111111111', region: 'eu-west-1' } }),
      'Auth',
    );
    const api = new apigateway.RestApi(
      new Stack(app, 'Far', { env: { account: '111111111111', region: 'us-east-1' } }),
      'Api',
    );
    expect(() => auth.authorizerFor(api)).toThrow(/region us-east-1 but the service is in eu-west-1/);
  });
});
