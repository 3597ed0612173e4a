/**
 * Storage: the message bucket (raw messages, immutable, docs/architecture.md invariant 5) and the
 * mail index table, declared from core/resources.ts (MESSAGE_BUCKET, MAIL_INDEX_TABLE).
 *
 * Lifecycle of the bucket:
 *  - incomplete multipart uploads (a listener that died while streaming a large message)
 *    are aborted after 1 day;
 *  - raw messages never expire by age: the mail index counts references to each blob
 *    (mailbox copies, and a hold by the ingest job in flight) and whoever drops the last one
 *    deletes the blob (core/ports/mail-index.ts);
 *  - outbound copies (`outbound/`) belong to one outbound job, which deletes its copy when it
 *    ends; what a crash leaves behind expires after MESSAGE_BUCKET.outboundRetentionDays;
 *  - versioning is on, so a delete by mistake is recoverable for NONCURRENT_DAYS; expired
 *    delete markers are cleaned up.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { MAIL_INDEX_TABLE, MESSAGE_BUCKET, type KeyAttribute } from '#core/resources.ts';
import { acknowledge } from './nag.ts';

export const NONCURRENT_DAYS = 30;

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return { name: key.name, type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER };
}

export interface StorageProps {
  /** Physical table name (core/resources.ts resourceNames). */
  tableName: string;
  deletionProtection: boolean;
}

export class Storage extends Construct {
  readonly bucket: s3.Bucket;
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    // No physical name: bucket names are global across all AWS accounts, so CloudFormation
    // makes a unique one (published as a stack output).
    this.bucket = new s3.Bucket(this, MESSAGE_BUCKET.id, {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        {
          // Outbound copies are deleted by their job; what a crash leaves behind, and the
          // `.queued` markers, go after the retention period (far past the give-up age).
          id: 'expire-outbound',
          prefix: MESSAGE_BUCKET.outboundPrefix,
          expiration: Duration.days(MESSAGE_BUCKET.outboundRetentionDays),
        },
        {
          // JMAP uploads: their bytes are copied into the message that uses them (RFC 8620 §6.1).
          id: 'expire-jmap-uploads',
          prefix: MESSAGE_BUCKET.uploadPrefix,
          expiration: Duration.days(MESSAGE_BUCKET.uploadRetentionDays),
        },
        { id: 'expire-noncurrent', noncurrentVersionExpiration: Duration.days(NONCURRENT_DAYS), expiredObjectDeleteMarker: true },
      ],
    });
    acknowledge(
      this.bucket,
      'AwsSolutions-S1',
      'Server access logs would record every message fetch in a second bucket at extra cost; only the stack roles can reach this bucket, and CloudTrail data events can be turned on when an audit trail of object access is needed.',
    );

    const def = MAIL_INDEX_TABLE;
    this.table = new dynamodb.Table(this, def.id, {
      tableName: props.tableName,
      partitionKey: attribute(def.partitionKey),
      sortKey: attribute(def.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: def.timeToLiveAttribute,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const gsi of def.globalSecondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: gsi.indexName,
        partitionKey: attribute(gsi.partitionKey),
        sortKey: gsi.sortKey ? attribute(gsi.sortKey) : undefined,
      });
    }
  }
}
