import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { createConsumerApp } from '../../examples/consumer-app/app.ts';
import { functionNames } from '../../infra/routes.ts';
import { lambdaOf } from './template-helpers.ts';

/** examples/consumer-app, synthesized as `cdk synth` would (bundling skipped), and its templates asserted. */
let auth: Template;
let orders: Template;

beforeAll(() => {
  const { app } = createConsumerApp(
    new App({
      outdir: mkdtempSync(join(tmpdir(), 'auth-example-')),
      context: { 'aws:cdk:bundling-stacks': [] },
    }),
  );
  const assembly = app.synth();
  auth = Template.fromJSON(assembly.getStackByName('Auth').template);
  orders = Template.fromJSON(assembly.getStackByName('Orders').template);
  // A synth with cdk-nag is seconds of CPU; on a busy 2-core machine, many more.
}, 120_000);

describe('the example consumer app', () => {
  it("protects its own GET /orders with the service's authorizer", () => {
    const authorizerArnExport = Object.entries(auth.toJSON().Outputs as Record<string, any>).find(
      ([, output]) => JSON.stringify(output.Value).includes(lambdaOf(auth, 'authorizer').id),
    )?.[1].Export.Name;
    expect(authorizerArnExport).toBeDefined();

    const authorizers = orders.findResources('AWS::ApiGateway::Authorizer');
    expect(Object.keys(authorizers)).toHaveLength(1);
    const [authorizerId, authorizer] = Object.entries(authorizers)[0] as [string, any];
    expect(authorizer.Properties.Type).toBe('TOKEN');
    expect(JSON.stringify(authorizer.Properties.AuthorizerUri)).toContain(
      JSON.stringify({ 'Fn::ImportValue': authorizerArnExport }),
    );

    orders.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: authorizerId },
      ResourceId: { Ref: Match.stringLikeRegexp('orders') },
    });
  });

  it('lets API Gateway invoke the authorizer from that API, and challenges with WWW-Authenticate: Bearer', () => {
    orders.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::ImportValue': Match.anyValue() },
    });
    orders.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      ResponseParameters: Match.objectLike({
        'gatewayresponse.header.WWW-Authenticate': "'Bearer'",
        'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'",
      }),
    });
  });

  it('deploys the whole service in its own stack', () => {
    auth.resourceCountIs('AWS::DynamoDB::Table', 1);
    auth.resourceCountIs('AWS::Lambda::Function', functionNames.length);
    orders.resourceCountIs('AWS::DynamoDB::Table', 0);
  });
});
