import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { settingsFromContext } from './settings.ts';
import { AuthServiceStack } from './stack.ts';

/** The stack's id (and default CloudFormation stack name). */
export const STACK_ID = 'AuthService';

/**
 * The CDK app: the one stack, with cdk-nag's AwsSolutions checks as a policy-validation plugin, so that any
 * finding not acknowledged (with its reason, next to the construct it concerns) fails the synth.
 */
export function createApp(props: AppProps = {}): { app: App; stack: AuthServiceStack } {
  const app = new App(props);
  const settings = settingsFromContext((key) => app.node.tryGetContext(key));
  const stack = new AuthServiceStack(app, STACK_ID, {
    settings,
    description: 'Auth service: login, refresh with rotation, logout and a Lambda token authorizer',
    // Environment-agnostic unless the deployer's CLI names one: the template works in any account and region.
    ...(process.env.CDK_DEFAULT_ACCOUNT && {
      env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    }),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
