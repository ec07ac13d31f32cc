import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigatewayv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUrlIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthService, type TokenAuthServiceProps } from '../../infra/cdk/service.ts';
import { settingsFromContext } from '../../infra/cdk/settings.ts';
import { grantsOf, lambdaOf } from './template-helpers.ts';

/** The service (and a consumer HTTP API using the native JWT authorizer, where it can) in one synthesized stack. */
function synth(props: TokenAuthServiceProps, withJwtRoute = false) {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'auth-signing-')),
    context: { 'aws:cdk:bundling-stacks': [] },
  });
  const stack = new Stack(app, 'Auth');
  const auth = new TokenAuthService(stack, 'Auth', { deletionProtection: false, ...props });
  if (withJwtRoute) {
    const httpApi = new apigatewayv2.HttpApi(stack, 'OrdersHttpApi');
    httpApi.addRoutes({
      path: '/orders',
      methods: [apigatewayv2.HttpMethod.GET],
      integration: new HttpUrlIntegration('Upstream', 'https://orders.internal.example.com'),
      authorizer: auth.jwtAuthorizerFor(httpApi),
    });
  }
  return { auth, template: Template.fromJSON(app.synth().getStackByName('Auth').template) };
}

describe('signing keys and discovery on AWS', () => {
  let hs: ReturnType<typeof synth>;
  let es: ReturnType<typeof synth>;
  let rs: ReturnType<typeof synth>;
  beforeAll(() => {
    hs = synth({});
    es = synth({ signingAlg: 'ES256' });
    rs = synth({ signingAlg: 'RS256' }, true);
  }, 180_000);

  it('serves both discovery documents through the discovery function, with no authorizer', () => {
    const resources = es.template.findResources('AWS::ApiGateway::Resource');
    const parts = Object.values(resources).map((resource) => resource.Properties.PathPart);
    expect(parts).toEqual(expect.arrayContaining(['.well-known', 'jwks.json', 'openid-configuration']));
    const discovery = lambdaOf(es.template, 'discovery').id;
    const methods = Object.values(es.template.findResources('AWS::ApiGateway::Method')).filter((method) =>
      JSON.stringify(method.Properties.Integration ?? {}).includes(discovery),
    );
    expect(methods).toHaveLength(2);
    for (const method of methods) {
      expect(method.Properties.HttpMethod).toBe('GET');
      expect(method.Properties.AuthorizationType).toBe('NONE');
    }
  });

  it('gives the functions SIGNING_ALG, and with ES256 the stage URL as their issuer', () => {
    for (const name of ['login', 'refresh', 'authorizer', 'discovery']) {
      const env = lambdaOf(es.template, name).props.Environment.Variables;
      expect(env.SIGNING_ALG, name).toBe('ES256');
      const issuer = JSON.stringify(env.JWT_ISSUER);
      expect(issuer, name).toContain('https://');
      expect(issuer, name).toContain('.execute-api.');
      expect(issuer, name).toContain('/v1');
      expect(lambdaOf(hs.template, name).props.Environment.Variables.SIGNING_ALG, name).toBe('HS256');
      expect(lambdaOf(hs.template, name).props.Environment.Variables.JWT_ISSUER, name).toBe('auth-service');
    }
    expect(es.auth.issuer).toContain('.execute-api.');
  });

  it('takes a custom-domain issuer as it is', () => {
    const custom = synth({ signingAlg: 'ES256', jwtIssuer: 'https://auth.example.com' });
    expect(lambdaOf(custom.template, 'authorizer').props.Environment.Variables.JWT_ISSUER).toBe(
      'https://auth.example.com',
    );
  }, 120_000);

  it('refuses an issuer that cannot be a discovery base URL with ES256/RS256', () => {
    for (const jwtIssuer of ['my-service', 'http://auth.example.com', 'https://auth.example.com/']) {
      expect(
        () => settingsFromContext((key) => ({ signingAlg: 'RS256', jwtIssuer })[key]),
        jwtIssuer,
      ).toThrow(/jwtIssuer/);
    }
    expect(() => settingsFromContext((key) => ({ signingAlg: 'none' })[key])).toThrow(/signingAlg/);
  });

  it('grants the authorizer nothing new in ES256 or RS256 mode', () => {
    expect(grantsOf(es.template, 'authorizer')).toEqual(grantsOf(hs.template, 'authorizer'));
    expect(grantsOf(rs.template, 'authorizer')).toEqual(grantsOf(hs.template, 'authorizer'));
  });

  it('offers the native JWT authorizer for a consumer HTTP API route with RS256: this issuer, the access audience', () => {
    rs.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Audience: ['auth-service-api'] },
    });
    const [authorizer] = Object.values(rs.template.findResources('AWS::ApiGatewayV2::Authorizer'));
    expect(JSON.stringify(authorizer?.Properties.JwtConfiguration.Issuer)).toContain('.execute-api.');
    rs.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { AuthorizationType: 'JWT' });
  });

  it('refuses the native JWT authorizer with ES256 and HS256, which HTTP API JWT authorizers cannot verify', () => {
    for (const signingAlg of ['ES256', 'HS256'] as const) {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'Auth');
      const auth = new TokenAuthService(stack, 'Auth', { deletionProtection: false, signingAlg });
      const httpApi = new apigatewayv2.HttpApi(stack, 'Api');
      expect(() => auth.jwtAuthorizerFor(httpApi), signingAlg).toThrow(/RS256/);
    }
  });
});
