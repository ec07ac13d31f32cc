import { createHash } from 'node:crypto';
import { type CfnElement, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { FunctionName } from '../routes.ts';
import { TokenAuthService } from './service.ts';
import type { StackSettings } from './settings.ts';

export { STAGE_NAME } from './api.ts';
export { repoRoot } from './functions.ts';

export interface AuthServiceStackProps extends StackProps {
  settings: StackSettings;
}

/**
 * The standalone deployment: the {@link TokenAuthService} construct, its outputs, and nothing else.
 *
 * Its logical ids are those of the stack from before the service became a construct (the construct's grouping
 * scopes are left out of them), so that updating a deployed stack replaces nothing: above all not the table,
 * which would come back empty.
 */
export class AuthServiceStack extends Stack {
  readonly service: TokenAuthService;
  readonly table: dynamodb.Table;
  readonly api: apigateway.RestApi;
  readonly functions: Record<FunctionName, lambda.Function>;

  constructor(scope: Construct, id: string, props: AuthServiceStackProps) {
    super(scope, id, props);
    this.service = new TokenAuthService(this, 'Service', props.settings);
    ({ table: this.table, api: this.api, functions: this.functions } = this.service);

    new CfnOutput(this, 'ApiUrl', {
      value: this.service.url,
      description: 'Base URL of the auth API, without a trailing slash: $API/auth/login',
    });
    new CfnOutput(this, 'AuthorizerFunctionArn', {
      value: this.service.authorizerFunction.functionArn,
      description: 'The TOKEN authorizer: attach it to your own REST API routes (see README)',
      exportName: `${this.stackName}-AuthorizerFunctionArn`,
    });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'SigningKeyParameterName', { value: props.settings.signingKeyParameterName });
  }

  protected override allocateLogicalId(element: CfnElement): string {
    const scopes = element.node.scopes;
    const path = scopes
      .slice(scopes.indexOf(this) + 1)
      .filter((scope) => !TokenAuthService.isGroupingScope(scope))
      .map((scope) => scope.node.id);
    return uniqueId(path);
  }
}

/**
 * CDK's logical id of a construct path (its `makeUniqueId`, which it does not export): the path's readable
 * components (without `Default`, `Resource` and repeated ones) followed by 8 hex digits of the path's MD5.
 * Test-pinned in test/infra/template.test.ts: a change here would replace every resource of a deployed stack.
 */
function uniqueId(components: string[]): string {
  const path = components.filter((component) => component !== 'Default');
  const alphanumeric = (s: string) => s.replace(/[^A-Za-z0-9]/g, '');
  if (path.length === 1) {
    const candidate = alphanumeric(path[0] as string);
    if (candidate.length <= 255) return candidate;
  }
  const hash = createHash('md5').update(path.join('/')).digest('hex').slice(0, 8).toUpperCase();
  const readable: string[] = [];
  for (const component of path) {
    const last = readable[readable.length - 1];
    if (last === undefined || !last.endsWith(component)) readable.push(component);
  }
  return (
    readable
      .filter((component) => component !== 'Resource')
      .map(alphanumeric)
      .join('')
      .slice(0, 240) + hash
  );
}
