import { App, Stack, type StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { TokenAuthService } from 'lambda-token-auth/cdk';

/**
 * A team's own CDK app using the token service: the service in a stack of its own, and the team's orders API
 * in another, whose `GET /orders` only a logged-in user may call. The one line that protects the route is
 * marked below; everything else is the team's ordinary API.
 */
interface OrdersStackProps extends StackProps {
  auth: TokenAuthService;
}

class OrdersStack extends Stack {
  readonly api: apigateway.RestApi;

  constructor(scope: Construct, id: string, props: OrdersStackProps) {
    super(scope, id, props);
    // The route's own code: the authorizer hands it the caller's userId, username and sessionId.
    const listOrders = new lambda.Function(this, 'ListOrders', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(
        'exports.handler = async (event) => ({ statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ user: event.requestContext.authorizer.username, orders: [] }) });',
      ),
    });
    this.api = new apigateway.RestApi(this, 'OrdersApi', { deployOptions: { stageName: 'v1' } });
    this.api.root.addResource('orders').addMethod('GET', new apigateway.LambdaIntegration(listOrders), {
      authorizer: props.auth.authorizerFor(this.api), // <- the line that protects the route
    });
  }
}

/** The consumer's app: `npx cdk synth` here runs it (cdk.json). */
export function createConsumerApp(app = new App()): {
  app: App;
  auth: TokenAuthService;
  orders: OrdersStack;
} {
  const authStack = new Stack(app, 'Auth', { description: 'The token service (lambda-token-auth)' });
  const auth = new TokenAuthService(authStack, 'Auth', {
    corsOrigins: ['https://app.example.com'],
    deletionProtection: false,
  });
  const orders = new OrdersStack(app, 'Orders', {
    auth,
    description: 'The team API, behind the token service',
  });
  return { app, auth, orders };
}

if (import.meta.main) createConsumerApp().app.synth();
