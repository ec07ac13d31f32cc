import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { tableSchema } from '../../lib/store/schema.ts';

export interface AuthTablesProps {
  /** Deletion protection on, and the table kept (RETAIN) when the stack or construct goes. */
  deletionProtection: boolean;
}

/**
 * The one table of users and sessions (lib/store/schema.ts): on-demand, expired items removed by TTL,
 * point-in-time recovery, and the user-id index that logout-all queries (it projects only the revoked flag).
 */
export class AuthTables extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: AuthTablesProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: tableSchema.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: tableSchema.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // Sparse, keys only (see tableSchema.liveSessionIndex). It replaces the byUserId index: CloudFormation
    // creates or deletes one global secondary index per table update, so an existing deployment takes this in
    // two deploys (first with both indexes, then without the old one).
    this.table.addGlobalSecondaryIndex({
      indexName: tableSchema.liveSessionIndex.name,
      partitionKey: { name: tableSchema.liveSessionIndex.partitionKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
  }
}
