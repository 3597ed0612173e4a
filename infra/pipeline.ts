/**
 * The pipeline behind the listeners: the ingest and outbound queues with their dead-letter
 * queues (settings from core/resources.ts QUEUES), and the two Lambda functions that consume
 * them (functions/ingest.ts, functions/outbound.ts), bundled with the local esbuild.
 *
 *   listeners --SendMessage--> ingest queue --> ingest fn --SendMessage--> outbound queue --> outbound fn
 *                                   |  maxReceiveCount                          |  maxReceiveCount
 *                                   v                                           v
 *                              ingest DLQ                                  outbound DLQ
 *
 * Each function reports batch item failures (functions/*.ts return `batchItemFailures`), so
 * one bad job is retried alone and the others of its batch are deleted.
 */
import path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MESSAGE_BUCKET, QUEUES, type QueueDefinition, type ResourceNames } from '#core/resources.ts';
import type { QueueName } from '#core/ports/work-queue.ts';
import { grantIndex, grantMessages } from './grants.ts';
import { JUNK_MODEL_PREFIX } from '#core/junk/model-store.ts';
import { CONTACT_SETTINGS_PREFIX } from '#core/contacts/collected.ts';
import { acknowledge } from './nag.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');

/**
 * How each queue is consumed. AWS recommends a queue visibility timeout of at least six
 * times the function timeout for SQS event sources (a batch retried after throttling must
 * not reappear while still being processed), so the timeout derives from
 * core/resources.ts: ingest 180 s → 30 s, outbound 1800 s → 300 s.
 */
export const CONSUMERS: Record<QueueName, { entry: string; memoryMiB: number; batchSize: number; batchingWindowSeconds: number; maxConcurrency: number }> = {
  ingest: {
    entry: 'functions/ingest.ts',
    // Parses messages up to MAX_MESSAGE_SIZE (25 MiB) with mailparser; memory also buys CPU.
    memoryMiB: 1024,
    // Ten jobs per invocation (the most one SQS receive returns) amortise cold starts and
    // SDK connections; each job is a few index writes, far below the timeout.
    batchSize: 10,
    // No batching window: mail should reach the mailbox at once; under load the poller
    // fills batches by itself.
    batchingWindowSeconds: 0,
    // Caps parallel deliveries: UID allocation is a conditional transaction on the mailbox
    // item (docs/architecture.md, invariant 3), so more writers to one mailbox only add retries;
    // it also keeps a burst from taking the account's whole Lambda concurrency.
    maxConcurrency: 10,
  },
  outbound: {
    entry: 'functions/outbound.ts',
    memoryMiB: 512,
    // One SMTP transaction per invocation: a slow or tarpitting remote MX holds up only its
    // own job, and the function timeout bounds exactly one delivery attempt.
    batchSize: 1,
    batchingWindowSeconds: 0,
    // Bounds simultaneous connections to remote MXes / the smart host (SES applies a
    // per-second sending quota; receivers throttle bursts from one source).
    maxConcurrency: 20,
  },
};

export function functionTimeoutSeconds(def: QueueDefinition): number {
  return Math.floor(def.visibilityTimeoutSeconds / 6);
}

export interface MailQueue {
  definition: QueueDefinition;
  queue: sqs.Queue;
  deadLetters: sqs.Queue;
}

export interface PipelineProps {
  names: ResourceNames;
  bucket: s3.IBucket;
  table: dynamodb.ITable;
  /** Variables of both functions (RESOURCE_ENV, host name, DKIM secret ARN, ...). */
  environment: (queues: Record<QueueName, MailQueue>) => Record<string, string>;
  /** Extra variables of the outbound function (smart host). */
  outboundEnvironment: Record<string, string>;
  dkimSecret: secretsmanager.ISecret;
  smartHostSecret: secretsmanager.ISecret | null;
  logRetention: logs.RetentionDays;
  /** Run the outbound function in these subnets of `vpc` (egress through NAT), or outside any VPC. */
  vpc: ec2.IVpc;
  outboundSubnets: ec2.SubnetSelection | null;
}

export class Pipeline extends Construct {
  readonly queues: Record<QueueName, MailQueue>;
  readonly functions: Record<QueueName, nodejs.NodejsFunction>;
  readonly logGroups: Record<QueueName, logs.LogGroup>;

  constructor(scope: Construct, id: string, props: PipelineProps) {
    super(scope, id);
    this.queues = {
      ingest: this.makeQueue('Ingest', QUEUES.ingest, props.names.queues.ingest),
      outbound: this.makeQueue('Outbound', QUEUES.outbound, props.names.queues.outbound),
    };
    const environment = props.environment(this.queues);
    const ingest = this.makeFunction('Ingest', 'ingest', props, environment);
    const outbound = this.makeFunction('Outbound', 'outbound', props, { ...environment, ...props.outboundEnvironment });
    this.functions = { ingest: ingest.fn, outbound: outbound.fn };
    this.logGroups = { ingest: ingest.logGroup, outbound: outbound.logGroup };

    // Ingest: reads the raw message, writes the index, hands remote recipients to outbound
    // with a DKIM-signed copy (core/outbound/route.ts), and stores bounces (DSN) for unknown
    // local recipients of submissions.
    const prefixes = [MESSAGE_BUCKET.messagePrefix, MESSAGE_BUCKET.outboundPrefix];
    grantMessages(ingest.fn, props.bucket, { read: true, write: true, delete: true }, prefixes);
    grantIndex(ingest.fn, props.table, { write: true });
    // Each recipient's junk model scores mail for several recipients (core/junk/delivery-verdict.ts).
    grantMessages(ingest.fn, props.bucket, { read: true }, [JUNK_MODEL_PREFIX]);
    // Whether a sender's recipients are collected into their address book (core/contacts/collected.ts).
    grantMessages(ingest.fn, props.bucket, { read: true }, [CONTACT_SETTINGS_PREFIX]);
    this.queues.outbound.queue.grantSendMessages(ingest.fn);
    // Vacation auto-replies (core/delivery/vacation.ts) are queued as new ingest jobs. They go
    // with the null envelope sender and are never answered themselves, so a chain is at most
    // one reply long (far below Lambda's recursive-loop detection).
    this.queues.ingest.queue.grantSendMessages(ingest.fn);
    props.dkimSecret.grantRead(ingest.fn);
    // Outbound: reads the raw message, signs (DKIM) and sends it; a bounce (DSN, RFC 3464) is
    // stored as a new message and queued for ingest to the local sender; a blob whose last
    // reference was the delivered job is deleted (docs/architecture.md, invariant 5).
    grantMessages(outbound.fn, props.bucket, { read: true, write: true, delete: true }, prefixes);
    grantIndex(outbound.fn, props.table, { write: true });
    this.queues.ingest.queue.grantSendMessages(outbound.fn);
    // A deferred delivery (4xx, connection failure) is re-sent to the outbound queue with a delay.
    this.queues.outbound.queue.grantSendMessages(outbound.fn);
    props.dkimSecret.grantRead(outbound.fn);
    props.smartHostSecret?.grantRead(outbound.fn);
  }

  private makeQueue(id: string, def: QueueDefinition, names: { name: string; deadLetterName: string }): MailQueue {
    const deadLetters = new sqs.Queue(this, `${id}DeadLetters`, {
      queueName: names.deadLetterName,
      retentionPeriod: Duration.seconds(def.deadLetterRetentionSeconds),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const queue = new sqs.Queue(this, id, {
      queueName: names.name,
      visibilityTimeout: Duration.seconds(def.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(def.retentionSeconds),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: def.maxReceiveCount },
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    return { definition: def, queue, deadLetters };
  }

  private makeFunction(id: string, name: QueueName, props: PipelineProps, environment: Record<string, string>) {
    const consumer = CONSUMERS[name];
    const { definition, queue } = this.queues[name];
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    // An explicit role instead of the default one with the AWSLambdaBasicExecutionRole managed
    // policy: it may write to its own log group only.
    const role = new iam.Role(this, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `${name} function` });
    logGroup.grantWrite(role);
    const inVpc = name === 'outbound' && props.outboundSubnets !== null;
    const fn = new nodejs.NodejsFunction(this, `${id}Function`, {
      entry: path.join(REPO_ROOT, consumer.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: consumer.memoryMiB,
      timeout: Duration.seconds(functionTimeoutSeconds(definition)),
      role,
      logGroup,
      environment,
      description: `${name} queue consumer (${consumer.entry})`,
      ...(inVpc ? { vpc: props.vpc, vpcSubnets: props.outboundSubnets!, allowPublicSubnet: false } : {}),
      bundling: {
        // The local esbuild from node_modules; never Docker.
        forceDockerBundling: false,
        format: nodejs.OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        // CommonJS dependencies (mailparser, nodemailer, ...) call require() inside an ES module.
        banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        // The AWS SDK is bundled too: the same version the tests ran, not the runtime's copy.
        externalModules: [],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        logLevel: nodejs.LogLevel.WARNING,
      },
    });
    fn.addEventSource(
      new SqsEventSource(queue, {
        batchSize: consumer.batchSize,
        maxBatchingWindow: Duration.seconds(consumer.batchingWindowSeconds),
        maxConcurrency: consumer.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    if (inVpc) {
      acknowledge(
        role,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        'The AWS-maintained policy holds exactly the network-interface actions Lambda needs to attach the function to the VPC (EC2 requires Resource "*" for them).',
      );
    }
    return { fn, logGroup };
  }
}
