/**
 * A one-off task for moving mail in (`mailctl import …`, README "Moving in"): a Fargate task
 * definition that runs mailctl from the listeners' image (/app/mailctl.mjs) with the aws
 * adapters, started by hand with `aws ecs run-task` (the stack output ImportRunTask gives the
 * command). It is not a service: nothing runs, and nothing is billed, until someone starts it.
 *
 *  - Its own role: the message bucket (raw messages and the import state under
 *    IMPORT_STATE_PREFIX: read, write, delete), the index (read, write), publish on the push
 *    topic (IDLE sessions see imported mail at once). No queue, no secret.
 *  - Its own security group: no inbound at all; outbound HTTPS (AWS APIs) and the IMAP and POP3
 *    ports of the source server (993, 143, 995, 110) to anywhere. The listeners' group allows
 *    only HTTPS out, so the import runs apart from them.
 *  - 1 vCPU and 2 GiB: an import holds at most a few copies of one message in memory (core/import).
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { IMPORT_STATE_PREFIX } from '#core/import/state.ts';
import { MESSAGE_BUCKET } from '#core/resources.ts';
import { grantIndex, grantMessages } from './grants.ts';
import { acknowledge } from './nag.ts';
import type { Network } from './network.ts';
import type { Push } from './push.ts';

/** Ports of the servers mail is imported from: IMAPS, IMAP (STARTTLS), POP3S, POP3 (STLS). */
export const IMPORT_SOURCE_PORTS = [993, 143, 995, 110] as const;
export const IMPORT_CONTAINER = 'mailctl';

export interface ImportTaskProps {
  network: Network;
  image: ecs.ContainerImage;
  environment: Record<string, string>;
  bucket: s3.IBucket;
  table: dynamodb.ITable;
  push: Push;
  logGroup: logs.ILogGroup;
}

export class ImportTask extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: ImportTaskProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.network.vpc,
      description: 'mailctl import: no inbound; AWS APIs and the source IMAP/POP3 server out',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs over HTTPS');
    for (const port of IMPORT_SOURCE_PORTS) this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `source mail server (${port})`);

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: 1024,
      memoryLimitMiB: 2048,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.taskDefinition.addVolume({ name: 'tmp' });
    const container = this.taskDefinition.addContainer(IMPORT_CONTAINER, {
      image: props.image,
      essential: true,
      readonlyRootFilesystem: true,
      // The command is given at run time (aws ecs run-task --overrides); alone it prints the usage.
      command: ['node', '--enable-source-maps', '/app/mailctl.mjs', 'help'],
      environment: { ...props.environment, MAIL_DATA_DIR: '/tmp/mail' },
      logging: ecs.LogDrivers.awsLogs({ logGroup: props.logGroup, streamPrefix: 'import' }),
    });
    container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });

    const role = this.taskDefinition.taskRole;
    grantMessages(role, props.bucket, { read: true, write: true, delete: true }, [MESSAGE_BUCKET.messagePrefix, IMPORT_STATE_PREFIX]);
    grantIndex(role, props.table, { write: true });
    props.push.grantPublish(role);
    acknowledge(
      this.taskDefinition,
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken (to pull the listeners image asset) is an account-level action with no resource to name; the pull actions themselves are limited to the asset repository.',
    );
    acknowledge(
      this.taskDefinition,
      'AwsSolutions-ECS2',
      'The environment holds only non-secret settings (resource names); the source password is given at run time in IMPORT_PASSWORD, which the README advises to pass from a file, not a shell history.',
    );
  }
}
