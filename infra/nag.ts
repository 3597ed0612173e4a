/**
 * cdk-nag (AwsSolutions pack) acknowledgements. Every finding the stack accepts is acknowledged
 * on the narrowest construct it applies to, with the reason written beside it; the tests
 * (test/infra/nag.test.ts) fail on any finding left unacknowledged.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * The way cdk-nag names a resource inside a finding id, e.g. `<MessagesBucket1234.Arn>`
 * in `AwsSolutions-IAM5[Resource::<MessagesBucket1234.Arn>/messages/*]`.
 */
export function nagRef(resource: IConstruct, attribute = 'Arn'): string {
  const cfn = (resource.node.defaultChild ?? resource) as CfnResource;
  return `<${Stack.of(resource).getLogicalId(cfn)}.${attribute}>`;
}
