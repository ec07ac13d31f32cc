import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  browserSettingsWarnings,
  COOKIE_SITE_WARNING,
  CORS_SEVERAL_ORIGINS_WARNING,
} from '../../infra/cdk/api.ts';
import { TokenAuthService, type TokenAuthServiceProps } from '../../infra/cdk/service.ts';

/**
 * CORS with credentials on everything API Gateway answers itself (gateway responses and preflights), for the
 * cookie transport, and what the construct says about the site a browser app must share with the API.
 */
const APP = 'https://app.example.com';

interface Synthesized {
  service: Template;
  consumer: Template;
  annotations: Annotations;
}

function synth(props: TokenAuthServiceProps): Synthesized {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'auth-browser-cors-')),
    context: { 'aws:cdk:bundling-stacks': [] },
  });
  const serviceStack = new Stack(app, 'Auth');
  const auth = new TokenAuthService(serviceStack, 'Auth', { deletionProtection: false, ...props });
  const consumerStack = new Stack(app, 'Orders');
  const api = new apigateway.RestApi(consumerStack, 'OrdersApi');
  api.root.addResource('orders').addMethod('GET', new apigateway.MockIntegration(), {
    authorizer: auth.authorizerFor(api),
  });
  const assembly = app.synth();
  return {
    service: Template.fromJSON(assembly.getStackByName('Auth').template),
    consumer: Template.fromJSON(assembly.getStackByName('Orders').template),
    annotations: Annotations.fromStack(serviceStack),
  };
}

const gatewayResponses = (template: Template) =>
  Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')).map(
    (resource) => resource.Properties as { ResponseType: string; ResponseParameters: Record<string, string> },
  );

const preflightResponses = (template: Template) =>
  Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'OPTIONS' } }))
    .flatMap((method) => method.Properties.Integration.IntegrationResponses)
    .map((response) => response.ResponseParameters as Record<string, string>);

describe('with one allowed origin', () => {
  let synthesized: Synthesized;
  beforeAll(() => {
    synthesized = synth({ corsOrigins: [APP], apiDomainName: 'auth.example.com' });
  }, 120_000);

  it('every gateway response of the service and of a consumer API allows that exact origin with credentials', () => {
    const all = [...gatewayResponses(synthesized.service), ...gatewayResponses(synthesized.consumer)];
    expect(all.map((response) => response.ResponseType).sort()).toEqual(
      [
        'ACCESS_DENIED',
        'ACCESS_DENIED',
        'DEFAULT_5XX',
        'MISSING_AUTHENTICATION_TOKEN',
        'REQUEST_TOO_LARGE',
        'THROTTLED',
        'UNAUTHORIZED',
        'UNAUTHORIZED',
      ].sort(),
    );
    for (const response of all) {
      expect(response.ResponseParameters, response.ResponseType).toMatchObject({
        'gatewayresponse.header.Access-Control-Allow-Origin': `'${APP}'`,
        'gatewayresponse.header.Access-Control-Allow-Credentials': "'true'",
        'gatewayresponse.header.Vary': "'Origin'",
      });
    }
  });

  it('every preflight allows credentials and the X-Token-Transport header, for that origin only', () => {
    const preflights = preflightResponses(synthesized.service);
    expect(preflights.length).toBeGreaterThan(10);
    for (const response of preflights) {
      expect(response).toMatchObject({
        'method.response.header.Access-Control-Allow-Origin': `'${APP}'`,
        'method.response.header.Access-Control-Allow-Credentials': "'true'",
        'method.response.header.Access-Control-Allow-Headers':
          "'Authorization,Content-Type,X-Token-Transport'",
      });
    }
  });

  it('warns about nothing when the API domain is on the origin site', () => {
    expect(synthesized.annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });
});

describe('with several allowed origins', () => {
  let synthesized: Synthesized;
  const origins = [APP, 'https://admin.example.com'];
  beforeAll(() => {
    synthesized = synth({ corsOrigins: origins, apiDomainName: 'auth.example.com' });
  }, 120_000);

  it('never allows credentials on a gateway response, which can only echo whatever Origin came', () => {
    for (const response of gatewayResponses(synthesized.service)) {
      expect(response.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin']).toBe(
        'method.request.header.Origin',
      );
      expect(response.ResponseParameters).not.toHaveProperty(
        'gatewayresponse.header.Access-Control-Allow-Credentials',
      );
    }
  });

  it('still allows credentials on the preflights, which choose among the listed origins', () => {
    for (const response of preflightResponses(synthesized.service)) {
      expect(response['method.response.header.Access-Control-Allow-Credentials']).toBe("'true'");
    }
    const templates = JSON.stringify(
      Object.values(
        synthesized.service.findResources('AWS::ApiGateway::Method', {
          Properties: { HttpMethod: 'OPTIONS' },
        }),
      ).map((method) => method.Properties.Integration.IntegrationResponses),
    );
    for (const origin of origins) expect(templates).toContain(origin);
  });

  it('says so at synth time', () => {
    const warnings = synthesized.annotations.findWarning('*', Match.stringLikeRegexp('allow no credentials'));
    expect(warnings).toHaveLength(1);
  });
});

describe('the site of the API and of the browser app', () => {
  it('the construct warns at synth when corsOrigins are set and the API has no custom domain on their site', () => {
    const { annotations } = synth({ corsOrigins: [APP] });
    const warnings = annotations.findWarning('*', Match.stringLikeRegexp('SameSite=Strict'));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0]?.entry.data)).toContain('apiDomainName');
  });

  it('is judged by registrable domain (public suffixes included), naming each origin on another site', () => {
    const ids = (warnings: [string, string][]) => warnings.map(([id]) => id);
    expect(browserSettingsWarnings({ corsOrigins: [], apiDomainName: undefined })).toEqual([]);
    expect(ids(browserSettingsWarnings({ corsOrigins: [APP], apiDomainName: undefined }))).toEqual([
      COOKIE_SITE_WARNING,
    ]);
    expect(browserSettingsWarnings({ corsOrigins: [APP], apiDomainName: 'auth.example.com' })).toEqual([]);
    expect(
      browserSettingsWarnings({
        corsOrigins: ['https://shop.example.co.uk'],
        apiDomainName: 'api.example.co.uk',
      }),
    ).toEqual([]);
    // Two different sites under one public suffix are not the same site.
    const split = browserSettingsWarnings({
      corsOrigins: ['https://shop.example.co.uk'],
      apiDomainName: 'api.other.co.uk',
    });
    expect(ids(split)).toEqual([COOKIE_SITE_WARNING]);
    const mixed = browserSettingsWarnings({
      corsOrigins: [APP, 'https://partner.example.net'],
      apiDomainName: 'auth.example.com',
    });
    expect(ids(mixed)).toEqual([CORS_SEVERAL_ORIGINS_WARNING, COOKIE_SITE_WARNING]);
    expect(mixed[1]?.[1]).toContain('https://partner.example.net');
    expect(mixed[1]?.[1]).not.toContain(APP);
  });

  it('refuses an apiDomainName that is not a host name', () => {
    for (const apiDomainName of ['https://auth.example.com', 'auth.example.com/v1', 'localhost']) {
      expect(() => synth({ apiDomainName }), apiDomainName).toThrow(/apiDomainName/);
    }
  });
});
