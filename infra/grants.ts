/**
 * Least-privilege grants on the data resources, with the actions spelled out: CDK's
 * bucket.grantReadWrite() would hand out `s3:GetObject*`, `s3:DeleteObject*`, `s3:List*`
 * and table.grantReadWriteData() would add Scan, which nothing in the runtime needs.
 * Tests (test/infra/mail-stack.test.ts) fail on any wildcard action in the template.
 */
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { MAIL_INDEX_TABLE, MESSAGE_BUCKET } from '#core/resources.ts';
import { acknowledge, nagRef } from './nag.ts';

export interface BlobAccess {
  read?: boolean;
  /** PutObject and multipart abort. */
  write?: boolean;
  delete?: boolean;
}

/** Access to objects under the given prefixes only (default: raw messages, MESSAGE_BUCKET.messagePrefix). */
export function grantMessages(
  grantee: iam.IGrantable & IConstruct,
  bucket: s3.IBucket,
  access: BlobAccess,
  prefixes: string[] = [MESSAGE_BUCKET.messagePrefix],
): void {
  const actions: string[] = [];
  if (access.read) actions.push('s3:GetObject');
  if (access.write) actions.push('s3:PutObject', 's3:AbortMultipartUpload');
  if (access.delete) actions.push('s3:DeleteObject');
  const objects = prefixes.map((p) => `${p}*`);
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: objects.map((o) => bucket.arnForObjects(o)) }));
  // ListBucket lets a HEAD/GET of a missing key answer 404 instead of 403, so "not found"
  // is told apart from "denied". It lists key names, never content.
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
  // The finding is reported on the principal's policy (a role's DefaultPolicy), so acknowledge it there.
  const principal = grantee.grantPrincipal instanceof Construct ? grantee.grantPrincipal : grantee;
  for (const o of objects) {
    acknowledge(
      principal,
      `AwsSolutions-IAM5[Resource::${nagRef(bucket)}/${o}]`,
      `Objects under the ${o.slice(0, -1)} prefix have generated keys (raw messages, or outbound copies owned by one job); access is limited to that prefix, with the actions listed one by one.`,
    );
  }
}

export const INDEX_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];
/** Transactions (TransactWriteItems) are authorised per item through these same actions. */
export const INDEX_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem'];

export function grantIndex(grantee: iam.IGrantable & IConstruct, table: dynamodb.ITable, access: { write: boolean }): void {
  const actions = access.write ? [...INDEX_READ_ACTIONS, ...INDEX_WRITE_ACTIONS] : INDEX_READ_ACTIONS;
  // Indexes by name (core/resources.ts), never `index/*`.
  const indexes = MAIL_INDEX_TABLE.globalSecondaryIndexes.map((gsi) => `${table.tableArn}/index/${gsi.indexName}`);
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [table.tableArn, ...indexes] }));
}
