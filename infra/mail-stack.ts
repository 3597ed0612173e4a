/**
 * The mail system's stack: network, storage, secrets, the queue pipeline and its functions,
 * the listeners behind the load balancer, and observability — wired with least-privilege
 * grants, and the outputs an operator needs (docs/deploy.md).
 */
import { Annotations, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { MESSAGE_BUCKET, RESOURCE_ENV, resourceNames, type ResourceNames } from '#core/resources.ts';
import type { QueueName } from '#core/ports/work-queue.ts';
import type { MailContext } from './context.ts';
import { grantIndex, grantMessages } from './grants.ts';
import { JUNK_MODEL_PREFIX } from '#core/junk/model-store.ts';
import { ImportTask, IMPORT_CONTAINER } from './import-task.ts';
import { Listeners } from './listeners.ts';
import { Network } from './network.ts';
import { Observability } from './observability.ts';
import { Pipeline, type MailQueue } from './pipeline.ts';
import { Push } from './push.ts';
import { MailSecrets, SECRET_ENV } from './secrets.ts';
import { Storage } from './storage.ts';

export interface MailStackProps extends StackProps {
  context: MailContext;
}

/** Annotation id of the warning given when outbound mail has no way out on port 25. */
export const PORT_25_WARNING = 'cloudmail:outbound-port-25-blocked';

export class MailStack extends Stack {
  readonly names: ResourceNames;
  readonly network: Network;
  readonly storage: Storage;
  readonly secrets: MailSecrets;
  readonly pipeline: Pipeline;
  readonly push: Push;
  readonly listeners: Listeners;
  readonly importTask: ImportTask;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: MailStackProps) {
    super(scope, id, props);
    const ctx = props.context;
    this.names = resourceNames(ctx.stackName);
    const logRetention = ctx.logRetentionDays as logs.RetentionDays;

    this.network = new Network(this, 'Network', { context: ctx, logRetention });
    this.storage = new Storage(this, 'Storage', { tableName: this.names.table, deletionProtection: ctx.deletionProtection });
    this.secrets = new MailSecrets(this, 'Secrets', ctx);
    // "Mailbox changed" from the functions and each task to every listener task (infra/push.ts).
    this.push = new Push(this, 'Push', { prefix: ctx.stackName });

    // Variables of core/config.ts and core/resources.ts RESOURCE_ENV. The mail domains live in
    // the index (mailctl domain add), not here.
    const common: Record<string, string> = {
      MAIL_RUNTIME: 'aws',
      MAIL_HOSTNAME: ctx.hostname,
      LOG_LEVEL: 'info',
      ...this.push.environment(),
    };
    const resourceEnv = (queues: Record<QueueName, MailQueue>): Record<string, string> => ({
      [RESOURCE_ENV.bucket]: this.storage.bucket.bucketName,
      [RESOURCE_ENV.table]: this.storage.table.tableName,
      [RESOURCE_ENV.ingestQueueUrl]: queues.ingest.queue.queueUrl,
      [RESOURCE_ENV.ingestDeadLetterQueueUrl]: queues.ingest.deadLetters.queueUrl,
      [RESOURCE_ENV.outboundQueueUrl]: queues.outbound.queue.queueUrl,
      [RESOURCE_ENV.outboundDeadLetterQueueUrl]: queues.outbound.deadLetters.queueUrl,
    });

    // Smart host (core/config.ts smartHost): port 465 is implicit TLS (RFC 8314), others STARTTLS.
    const outboundEnvironment: Record<string, string> = {};
    if (ctx.smartHost) {
      outboundEnvironment.SMART_HOST = ctx.smartHost.host;
      outboundEnvironment.SMART_HOST_PORT = String(ctx.smartHost.port);
      outboundEnvironment.SMART_HOST_TLS = ctx.smartHost.port === 465 ? 'implicit' : 'starttls';
    }
    if (this.secrets.smartHost) outboundEnvironment[SECRET_ENV.smartHostSecret] = this.secrets.smartHost.secretArn;
    this.pipeline = new Pipeline(this, 'Pipeline', {
      names: this.names,
      bucket: this.storage.bucket,
      table: this.storage.table,
      // Stack traces through the bundle's source maps.
      environment: (queues) => ({ ...common, ...resourceEnv(queues), [SECRET_ENV.dkim]: this.secrets.dkim.secretArn, NODE_OPTIONS: '--enable-source-maps' }),
      outboundEnvironment,
      dkimSecret: this.secrets.dkim,
      smartHostSecret: this.secrets.smartHost,
      logRetention,
      vpc: this.network.vpc,
      outboundSubnets: this.network.outboundSubnets,
    });

    this.listeners = new Listeners(this, 'Listeners', {
      context: ctx,
      network: this.network,
      environment: { ...common, ...resourceEnv(this.pipeline.queues), [SECRET_ENV.tls]: this.secrets.tls.secretArn },
      logRetention,
    });
    // The listeners store accepted messages and queue their ingest jobs (SMTP), and read and
    // change mailboxes (IMAP, POP3), deleting blobs whose last reference goes (EXPUNGE); they
    // score MX mail with, and train, each user's junk model (core/junk/model-store.ts).
    const taskRole = this.listeners.taskRole;
    grantMessages(taskRole, this.storage.bucket, { read: true, write: true, delete: true }, [MESSAGE_BUCKET.messagePrefix, JUNK_MODEL_PREFIX]);
    grantIndex(taskRole, this.storage.table, { write: true });
    this.pipeline.queues.ingest.queue.grantSendMessages(taskRole);
    this.secrets.tls.grantRead(taskRole);
    // IDLE sessions hear of deliveries and of other tasks' changes through the push topic.
    this.push.grantListen(taskRole);
    for (const fn of Object.values(this.pipeline.functions)) this.push.grantPublish(fn);

    // mailctl import as a one-off task (README "Moving in").
    this.importTask = new ImportTask(this, 'Import', {
      network: this.network,
      image: this.listeners.image,
      environment: { ...common, ...resourceEnv(this.pipeline.queues) },
      bucket: this.storage.bucket,
      table: this.storage.table,
      push: this.push,
      logGroup: this.listeners.logGroup,
    });

    this.observability = new Observability(this, 'Observability', {
      queues: this.pipeline.queues,
      functions: this.pipeline.functions,
      functionLogs: this.pipeline.logGroups,
      listeners: this.listeners,
      alarmEmail: ctx.alarmEmail,
    });

    if (ctx.smartHost === null && !ctx.outboundInVpc) {
      Annotations.of(this).addWarningV2(
        PORT_25_WARNING,
        'Outbound mail has no smart host and the outbound function runs outside a VPC, where AWS blocks port 25 and the block cannot be lifted: remote delivery will fail. Set mail:smartHost (e.g. SES SMTP), or mail:natGateways=1 and ask AWS to lift the port-25 limit on the NAT gateway address (docs/deploy.md).',
      );
    }

    this.addOutputs(ctx);
  }

  private addOutputs(ctx: MailContext): void {
    const q = this.pipeline.queues;
    const out = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    out('MailBucket', this.storage.bucket.bucketName, `${RESOURCE_ENV.bucket}: the message bucket`);
    out('MailTable', this.storage.table.tableName, `${RESOURCE_ENV.table}: the mail index table`);
    out('IngestQueueUrl', q.ingest.queue.queueUrl, RESOURCE_ENV.ingestQueueUrl);
    out('IngestDeadLetterQueueUrl', q.ingest.deadLetters.queueUrl, RESOURCE_ENV.ingestDeadLetterQueueUrl);
    out('OutboundQueueUrl', q.outbound.queue.queueUrl, RESOURCE_ENV.outboundQueueUrl);
    out('OutboundDeadLetterQueueUrl', q.outbound.deadLetters.queueUrl, RESOURCE_ENV.outboundDeadLetterQueueUrl);
    // One line to `export` before running mailctl against this deployment.
    out(
      'MailctlEnvironment',
      Fn.join(' ', [
        'MAIL_RUNTIME=aws',
        `AWS_REGION=${this.region}`,
        `${RESOURCE_ENV.bucket}=${this.storage.bucket.bucketName}`,
        `${RESOURCE_ENV.table}=${this.storage.table.tableName}`,
        `${RESOURCE_ENV.ingestQueueUrl}=${q.ingest.queue.queueUrl}`,
        `${RESOURCE_ENV.ingestDeadLetterQueueUrl}=${q.ingest.deadLetters.queueUrl}`,
        `${RESOURCE_ENV.outboundQueueUrl}=${q.outbound.queue.queueUrl}`,
        `${RESOURCE_ENV.outboundDeadLetterQueueUrl}=${q.outbound.deadLetters.queueUrl}`,
        // For `mailctl domain show` (the records name the server and, for SPF, the smart host).
        `MAIL_HOSTNAME=${ctx.hostname}`,
        ...(ctx.smartHost ? [`SMART_HOST=${ctx.smartHost.host}`] : []),
      ]),
      'Environment for mailctl: export $(aws cloudformation describe-stacks ... MailctlEnvironment)',
    );
    out('LoadBalancerDnsName', this.listeners.loadBalancer.loadBalancerDnsName, 'DNS name of the Network Load Balancer');
    out(
      'MailAddresses',
      Fn.join(
        ',',
        this.listeners.addresses.map((a) => a.attrPublicIp),
      ),
      `IPv4 addresses for the A record of ${ctx.hostname} (one per AZ)`,
    );
    out('TlsSecretArn', this.secrets.tls.secretArn, 'Secret holding {"cert", "key"} (PEM) for the listeners');
    out('DkimSecretArn', this.secrets.dkim.secretArn, 'Secret holding the DKIM keys per domain');
    if (this.secrets.smartHost) out('SmartHostSecretArn', this.secrets.smartHost.secretArn, 'Secret holding the smart host credentials');
    out('DashboardName', this.observability.dashboard.dashboardName, 'CloudWatch dashboard');
    out('ClusterName', this.listeners.cluster.clusterName, 'ECS cluster of the listeners');
    out(
      'ServiceName',
      this.listeners.service.serviceName,
      'ECS service of the listeners (aws ecs update-service --force-new-deployment after a new certificate)',
    );
    // `mailctl import …` as a one-off task: append the mailctl arguments and IMPORT_PASSWORD (README "Moving in").
    const subnets = this.network.vpc.selectSubnets(this.network.taskSubnets).subnetIds;
    out(
      'ImportRunTask',
      Fn.join('', [
        `aws ecs run-task --launch-type FARGATE --cluster `,
        this.listeners.cluster.clusterName,
        ' --task-definition ',
        this.importTask.taskDefinition.taskDefinitionArn,
        ` --network-configuration awsvpcConfiguration={subnets=[`,
        Fn.join(',', subnets),
        '],securityGroups=[',
        this.importTask.securityGroup.securityGroupId,
        `],assignPublicIp=${this.network.taskPublicIp ? 'ENABLED' : 'DISABLED'}}`,
        ` --overrides file://import.json  # import.json: {"containerOverrides":[{"name":"${IMPORT_CONTAINER}","command":["node","/app/mailctl.mjs","import",...],"environment":[{"name":"IMPORT_PASSWORD","value":"..."}]}]}`,
      ]),
      'One-off mailctl import task (README, Moving in)',
    );
    // RFC 5321 §5.1: the MX target is a host name with A records (never a CNAME, RFC 2181 §10.3).
    out('MxRecords', ctx.domains.map((d) => `${d}. MX 10 ${ctx.hostname}.`).join(' | '), 'MX record of each mail domain');
  }
}
