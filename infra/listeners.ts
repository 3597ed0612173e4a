/**
 * The listeners: one container image (fargate-listeners/Dockerfile, arm64) running the SMTP,
 * IMAP and POP3 servers as an ECS Fargate service behind a Network Load Balancer.
 *
 * Ports. The container runs as a non-root user, so it binds high ports (the local defaults of
 * core/config.ts) and the NLB maps the well-known ports onto them: 25 → 2525, 465 → 2465,
 * 587 → 2587, 110 → 1110, 995 → 1995, 143 → 1143, 993 → 1993, 443 → 8443 (LISTENER_PORTS).
 *
 * HTTPS (443: autoconfiguration, MTA-STS, JMAP) is a TCP listener like the others, not an
 * Application Load Balancer or a TLS listener: the container terminates TLS with the same
 * certificate as IMAP and SMTP (one secret, one renewal), PROXY protocol v2 gives it the client
 * address for the auth throttle, and the NLB that exists anyway carries it for the price of its
 * traffic (an ALB would add about 16 USD a month and an ACM certificate to keep in step).
 *
 * Client addresses. Target type `ip` without client IP preservation: targets see the NLB's
 * private address, and proxy protocol v2 carries the real client address. The listeners read
 * PROXY_PROTOCOL=v2 and PROXY_TRUSTED_CIDRS (the NLB subnets): a connection from a trusted
 * address must begin with a v2 header (command LOCAL — the NLB's health checks — keeps the
 * socket address); connections from anywhere else are served without one (the container's
 * own health check from 127.0.0.1). A header from an untrusted peer is never believed.
 *
 * Draining. On scale-in or deployment a task is deregistered: the NLB sends it no new
 * connections, existing ones continue for the target group's deregistration delay (SMTP
 * transactions in flight get 120 s; IMAP/POP3 sessions 30 s, as they are resumable), then ECS
 * sends SIGTERM and the listeners say goodbye (421 4.3.2 / `* BYE` / `-ERR`) so clients
 * reconnect to another task, within the container stop timeout (120 s, the Fargate maximum).
 * connection_termination stays off so those goodbyes reach the clients instead of a reset.
 */
import { Duration, Fn, IgnoreMode, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { MailContext } from './context.ts';
import { acknowledge } from './nag.ts';
import type { Network } from './network.ts';
import { REPO_ROOT } from './pipeline.ts';

export interface ListenerPort {
  /** The listener's name (log field `listener`, metric dimension `Listener`). */
  name: string;
  /** Port on the load balancer (what clients and DNS use). */
  publicPort: number;
  /** Port the container binds, set through `env` (a variable of core/config.ts). */
  containerPort: number;
  env: string;
  /** Seconds a deregistered task keeps its open connections before SIGTERM. */
  deregistrationDelaySeconds: number;
  /** NLB idle timeout for silent TCP flows; unset = the NLB default of 350 s. */
  idleTimeoutSeconds?: number;
}

const SMTP_DRAIN = 120;
const SESSION_DRAIN = 30;
// POP3 servers must allow at least 10 minutes of inactivity (RFC 1939 §3).
const POP3_IDLE = 660;
// IMAP servers must allow at least 30 minutes (RFC 9051 §5.4) and IDLE clients re-issue the
// command every 29 minutes (RFC 2177 §3): the NLB must not drop a silent flow before that.
const IMAP_IDLE = 1860;

export const LISTENER_PORTS: readonly ListenerPort[] = [
  // SMTP servers may time out a silent client after 5 minutes (RFC 5321 §4.5.3.2.7): the NLB default of 350 s suffices.
  { name: 'smtp-mx', publicPort: 25, containerPort: 2525, env: 'SMTP_PORT', deregistrationDelaySeconds: SMTP_DRAIN },
  { name: 'submissions', publicPort: 465, containerPort: 2465, env: 'SUBMISSIONS_PORT', deregistrationDelaySeconds: SMTP_DRAIN },
  { name: 'submission', publicPort: 587, containerPort: 2587, env: 'SUBMISSION_PORT', deregistrationDelaySeconds: SMTP_DRAIN },
  { name: 'pop3', publicPort: 110, containerPort: 1110, env: 'POP3_PORT', deregistrationDelaySeconds: SESSION_DRAIN, idleTimeoutSeconds: POP3_IDLE },
  { name: 'pop3s', publicPort: 995, containerPort: 1995, env: 'POP3S_PORT', deregistrationDelaySeconds: SESSION_DRAIN, idleTimeoutSeconds: POP3_IDLE },
  { name: 'imap', publicPort: 143, containerPort: 1143, env: 'IMAP_PORT', deregistrationDelaySeconds: SESSION_DRAIN, idleTimeoutSeconds: IMAP_IDLE },
  { name: 'imaps', publicPort: 993, containerPort: 1993, env: 'IMAPS_PORT', deregistrationDelaySeconds: SESSION_DRAIN, idleTimeoutSeconds: IMAP_IDLE },
  // HTTP requests are short and retried by clients; JMAP EventSource streams reconnect.
  { name: 'https', publicPort: 443, containerPort: 8443, env: 'HTTPS_PORT', deregistrationDelaySeconds: SESSION_DRAIN },
];

/** Environment variables the listeners read for proxy protocol (parsed in fargate-listeners). */
export const PROXY_ENV = { protocol: 'PROXY_PROTOCOL', trustedCidrs: 'PROXY_TRUSTED_CIDRS' } as const;

/** Where the image writes at run time (the root file system is read-only). */
export const WRITABLE_DIR = '/tmp';

export interface ListenersProps {
  context: MailContext;
  network: Network;
  /** Variables shared with the functions (RESOURCE_ENV, host name, ...). */
  environment: Record<string, string>;
  logRetention: logs.RetentionDays;
}

export class Listeners extends Construct {
  readonly cluster: ecs.Cluster;
  readonly service: ecs.FargateService;
  readonly taskRole: iam.IRole;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly targetGroups: Record<string, elbv2.NetworkTargetGroup>;
  readonly logGroup: logs.LogGroup;
  /** The Elastic IPs of the load balancer, one per AZ: the A records of the host name. */
  readonly addresses: ec2.CfnEIP[];

  constructor(scope: Construct, id: string, props: ListenersProps) {
    super(scope, id);
    const { context, network } = props;
    const vpc = network.vpc;

    // --- security groups: anyone → NLB on the mail ports; NLB → tasks on the container ports
    const lbSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Mail ports from the internet',
      allowAllOutbound: false,
    });
    const taskSecurityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description: 'Mail listeners: from the load balancer only',
      allowAllOutbound: false,
    });
    for (const p of LISTENER_PORTS) {
      lbSecurityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(p.publicPort), `${p.name} from anywhere`);
      lbSecurityGroup.addEgressRule(taskSecurityGroup, ec2.Port.tcp(p.containerPort), `${p.name} to the tasks`);
      taskSecurityGroup.addIngressRule(lbSecurityGroup, ec2.Port.tcp(p.containerPort), `${p.name} from the load balancer`);
    }
    // The tasks only call AWS APIs over HTTPS (S3, DynamoDB, SQS, Secrets Manager, ECR, Logs).
    // DNS goes to the VPC resolver, which security groups do not filter.
    taskSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs over HTTPS');
    acknowledge(
      lbSecurityGroup,
      'AwsSolutions-EC23',
      'A public mail server: SMTP (25) must accept connections from any MTA on the internet, and users reach submission, IMAP and POP3 from anywhere. Abuse is handled by the listeners (rate limits, auth throttling).',
    );

    // --- load balancer with one Elastic IP per AZ (stable A records at any DNS provider)
    this.addresses = network.loadBalancerSubnets.map(
      (_, i) => new ec2.CfnEIP(this, `Address${i + 1}`, { domain: 'vpc', tags: [{ key: 'Name', value: `${context.hostname} (${i + 1})` }] }),
    );
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      subnetMappings: network.loadBalancerSubnets.map((subnet, i) => ({ subnet, allocationId: this.addresses[i].attrAllocationId })),
      securityGroups: [lbSecurityGroup],
      // Every EIP is published in DNS, while the tasks may all sit in one AZ.
      crossZoneEnabled: true,
      deletionProtection: context.deletionProtection,
    });
    acknowledge(
      this.loadBalancer,
      'AwsSolutions-ELB2',
      'NLB access logs cover TLS listeners only; these listeners are TCP (TLS ends in the container), so there would be nothing to log. The listeners log every connection with the client address from proxy protocol.',
    );

    // --- task: image, environment, logs, health check
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: context.taskCpu,
      memoryLimitMiB: context.taskMemoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.taskRole = taskDefinition.taskRole;
    taskDefinition.addVolume({ name: 'tmp' });
    const image = context.containerImage
      ? ecs.ContainerImage.fromRegistry(context.containerImage)
      : // Built by `cdk deploy` (Docker or Finch with arm64 support); synthesis only hashes the
        // files the root .dockerignore lets through, so `cdk synth` needs no Docker.
        ecs.ContainerImage.fromAsset(REPO_ROOT, { file: 'fargate-listeners/Dockerfile', platform: Platform.LINUX_ARM64, ignoreMode: IgnoreMode.DOCKER });
    const trustedCidrs = network.loadBalancerSubnets.map((s) => s.ipv4CidrBlock);
    const container = taskDefinition.addContainer('listeners', {
      image,
      essential: true,
      readonlyRootFilesystem: true,
      stopTimeout: Duration.seconds(120),
      environment: {
        ...props.environment,
        ...Object.fromEntries(LISTENER_PORTS.map((p) => [p.env, String(p.containerPort)])),
        MAIL_BIND: '0.0.0.0',
        MAIL_WORKERS: 'false',
        MAIL_DATA_DIR: `${WRITABLE_DIR}/mail`,
        [PROXY_ENV.protocol]: 'v2',
        [PROXY_ENV.trustedCidrs]: Fn.join(',', trustedCidrs),
        AWS_REGION: Stack.of(this).region,
      },
      logging: ecs.LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'listeners',
        // A slow log pipe must never stall SMTP sessions: buffer, and drop when full.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
      healthCheck: {
        command: ['CMD', 'node', '/app/healthcheck.mjs'],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      // One descriptor per connection: room for tens of thousands of idle IMAP sessions.
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: 65536, hardLimit: 65536 }],
      portMappings: LISTENER_PORTS.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: ecs.Protocol.TCP })),
    });
    container.addMountPoints({ sourceVolume: 'tmp', containerPath: WRITABLE_DIR, readOnly: false });
    if (!context.containerImage) {
      acknowledge(
        taskDefinition,
        'AwsSolutions-IAM5[Resource::*]',
        'ecr:GetAuthorizationToken (to pull the image asset) is an account-level action with no resource to name; the pull actions themselves are limited to the asset repository.',
      );
    }
    acknowledge(
      taskDefinition,
      'AwsSolutions-ECS2',
      'The environment holds only non-secret settings: resource names and queue URLs, ports, host name, and secret ARNs. Secret values are read from Secrets Manager at start, never passed in the environment.',
    );

    // --- cluster and service
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: context.containerInsights ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
    });
    if (!context.containerInsights) {
      acknowledge(
        this.cluster,
        'AwsSolutions-ECS4',
        'Turned off by the operator (mail:containerInsights=false) to save its metric charges; the service still reports CPU and memory to CloudWatch, and the dashboard and autoscaling use only those and the load balancer metrics.',
      );
    }
    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition,
      desiredCount: context.minTasks,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      assignPublicIp: network.taskPublicIp,
      vpcSubnets: network.taskSubnets,
      securityGroups: [taskSecurityGroup],
      healthCheckGracePeriod: Duration.seconds(60),
      platformVersion: ecs.FargatePlatformVersion.LATEST,
      enableExecuteCommand: false,
    });

    // --- one TCP listener and target group per port
    this.targetGroups = {};
    for (const p of LISTENER_PORTS) {
      const targetGroup = new elbv2.NetworkTargetGroup(this, `Target-${p.name}`, {
        vpc,
        port: p.containerPort,
        protocol: elbv2.Protocol.TCP,
        targetType: elbv2.TargetType.IP,
        proxyProtocolV2: true,
        preserveClientIp: false,
        connectionTermination: false,
        deregistrationDelay: Duration.seconds(p.deregistrationDelaySeconds),
        // TCP connect on the traffic port (with proxy protocol the NLB sends a LOCAL header first).
        healthCheck: {
          protocol: elbv2.Protocol.TCP,
          interval: Duration.seconds(30),
          timeout: Duration.seconds(10),
          healthyThresholdCount: 3,
          unhealthyThresholdCount: 3,
        },
        targets: [this.service.loadBalancerTarget({ containerName: container.containerName, containerPort: p.containerPort, protocol: ecs.Protocol.TCP })],
      });
      this.loadBalancer.addListener(`Listener-${p.name}`, {
        port: p.publicPort,
        protocol: elbv2.Protocol.TCP,
        defaultTargetGroups: [targetGroup],
        ...(p.idleTimeoutSeconds ? { tcpIdleTimeout: Duration.seconds(p.idleTimeoutSeconds) } : {}),
      });
      this.targetGroups[p.name] = targetGroup;
    }

    this.addAutoscaling(context);
  }

  /**
   * Scales on CPU (TLS handshakes, MIME parsing) and on connections per task: IMAP sessions
   * are mostly idle, so a task can run out of memory and descriptors long before CPU rises.
   */
  private addAutoscaling(context: MailContext): void {
    const stack = Stack.of(this);
    const target = new appscaling.ScalableTarget(this, 'Scaling', {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: Fn.join('/', ['service', this.cluster.clusterName, this.service.serviceName]),
      minCapacity: context.minTasks,
      maxCapacity: context.maxTasks,
    });
    target.scaleToTrackMetric('Cpu', {
      predefinedMetric: appscaling.PredefinedMetric.ECS_SERVICE_AVERAGE_CPU_UTILIZATION,
      targetValue: 60,
      // Scaling in cuts long-lived sessions: be slow to do it.
      scaleInCooldown: Duration.minutes(10),
      scaleOutCooldown: Duration.minutes(1),
    });
    // Connections per task = NLB active flows / healthy targets (of the SMTP target group, which
    // every task belongs to). The L2 API takes no metric math, hence the L1 policy.
    const lbDimension = this.loadBalancer.loadBalancerFullName;
    new appscaling.CfnScalingPolicy(this, 'ConnectionsPerTask', {
      policyName: `${stack.stackName}-connections-per-task`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: target.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: context.connectionsPerTask,
        scaleInCooldown: 600,
        scaleOutCooldown: 60,
        customizedMetricSpecification: {
          metrics: [
            {
              id: 'flows',
              returnData: false,
              metricStat: {
                metric: { namespace: 'AWS/NetworkELB', metricName: 'ActiveFlowCount', dimensions: [{ name: 'LoadBalancer', value: lbDimension }] },
                stat: 'Average',
              },
            },
            {
              id: 'tasks',
              returnData: false,
              metricStat: {
                metric: {
                  namespace: 'AWS/NetworkELB',
                  metricName: 'HealthyHostCount',
                  dimensions: [
                    { name: 'LoadBalancer', value: lbDimension },
                    { name: 'TargetGroup', value: this.targetGroups['smtp-mx'].targetGroupFullName },
                  ],
                },
                stat: 'Average',
              },
            },
            { id: 'perTask', expression: 'flows / tasks', label: 'active connections per task', returnData: true },
          ],
        },
      },
    });
  }
}
