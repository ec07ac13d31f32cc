import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { createApp } from '../../infra/cdk/assembly.ts';

export interface Acknowledgement {
  path: string;
  ruleId: string;
  reason: string;
}

export interface Synthesized {
  template: Template;
  /** Every cdk-nag acknowledgement declared in the app. */
  acknowledgements: Acknowledgement[];
  /** `path|ruleId` of each acknowledgement that silenced a real finding during the synth. */
  usedAcknowledgements: Set<string>;
}

/** `Annotation::AwsSolutions-APIG4` (as CDK stores it) -> `AwsSolutions-APIG4` (as cdk-nag reports it). */
const bareRuleId = (id: string) => id.replace(/^[A-Za-z]+::/, '');

function acknowledgementsOn(construct: IConstruct): Acknowledgement[] {
  const found: Acknowledgement[] = [];
  for (const entry of construct.node.metadata) {
    if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
    for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
      found.push({ path: construct.node.path, ruleId: bareRuleId(id), reason });
    }
  }
  return found;
}

/**
 * Synthesizes the app as `cdk synth` does, policy validation (cdk-nag) included, so that a finding left
 * unacknowledged under these settings throws here; it records which acknowledgement silenced which finding
 * (by wrapping cdk-nag's own check). The esbuild bundling that template assertions do not need is skipped: the
 * bundles themselves are tested by the bundle smoke test. One call per test file: a synth takes seconds.
 */
export function synthTemplate(context: Record<string, unknown> = {}): Synthesized {
  const pack = NagPack.prototype as unknown as {
    isAcknowledged(resource: IConstruct, ruleId: string): boolean;
  };
  const original = pack.isAcknowledged;
  const usedAcknowledgements = new Set<string>();
  pack.isAcknowledged = function (this: unknown, resource: IConstruct, ruleId: string) {
    const acknowledged = original.call(this, resource, ruleId);
    for (
      let current: IConstruct | undefined = resource;
      acknowledged && current;
      current = current.node.scope
    ) {
      const match = acknowledgementsOn(current).find((ack) => ack.ruleId === ruleId);
      if (match) {
        usedAcknowledgements.add(`${match.path}|${ruleId}`);
        break;
      }
    }
    return acknowledged;
  };
  try {
    const { app, stack } = createApp({
      outdir: mkdtempSync(join(tmpdir(), 'auth-cdk-')),
      context: { 'aws:cdk:bundling-stacks': [], ...context },
    });
    const acknowledgements = app.node.findAll().flatMap(acknowledgementsOn);
    const template = Template.fromJSON(app.synth().getStackArtifact(stack.artifactId).template);
    return { template, acknowledgements, usedAcknowledgements };
  } finally {
    pack.isAcknowledged = original;
  }
}

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

/** The logical id and properties of the Lambda function serving `name` (found by its description). */
export function lambdaOf(template: Template, name: string): { id: string; props: Record<string, any> } {
  const found = Object.entries(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Description: `auth service: ${name}` },
    }) as Resources,
  );
  if (found.length !== 1) throw new Error(`expected one function for ${name}, found ${found.length}`);
  const [id, resource] = found[0] as [string, Resources[string]];
  return { id, props: resource.Properties };
}

/** Every IAM statement attached to the role of function `name`, inline or as a policy resource. */
export function statementsOf(template: Template, name: string): Record<string, any>[] {
  const roleId = lambdaOf(template, name).props.Role['Fn::GetAtt'][0];
  const role = (template.findResources('AWS::IAM::Role') as Resources)[roleId];
  if (!role) throw new Error(`no role ${roleId}`);
  const statements: Record<string, any>[] = [];
  for (const policy of role.Properties.Policies ?? []) statements.push(...policy.PolicyDocument.Statement);
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy') as Resources)) {
    if (policy.Properties.Roles.some((ref: any) => ref.Ref === roleId)) {
      statements.push(...policy.Properties.PolicyDocument.Statement);
    }
  }
  return statements;
}

/** The actions granted to function `name`, each with its resource rendered as a short readable string. */
export function grantsOf(template: Template, name: string): string[] {
  const render = (resource: any): string => {
    if (typeof resource === 'string') return resource;
    if (resource['Fn::GetAtt'])
      return `${resource['Fn::GetAtt'][0].replace(/[0-9A-F]{8}$/, '')}.${resource['Fn::GetAtt'][1]}`;
    if (resource['Fn::Join']) return resource['Fn::Join'][1].map(render).join('');
    if (resource.Ref) return `<${resource.Ref}>`;
    return JSON.stringify(resource);
  };
  const grants: string[] = [];
  for (const statement of statementsOf(template, name)) {
    expectAllow(statement);
    const actions = [statement.Action].flat();
    const resources = [statement.Resource].flat();
    for (const action of actions)
      for (const resource of resources) grants.push(`${action} ${render(resource)}`);
  }
  return grants.sort();
}

function expectAllow(statement: Record<string, any>): void {
  if (statement.Effect !== 'Allow') throw new Error(`unexpected statement ${JSON.stringify(statement)}`);
}
