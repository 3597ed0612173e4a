/**
 * The network: a new VPC (two AZs, public subnets, optional NAT and private subnets, flow logs
 * of rejected traffic) or an existing one, and the subnets each part of the system runs in.
 *
 * Cost shapes the default: without NAT gateways (about 33 USD a month each) the listener tasks
 * run in public subnets with a public IP each, and their security group admits only the load
 * balancer (docs/deploy.md, "Network").
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { MailContext } from './context.ts';

export interface NetworkProps {
  context: MailContext;
  logRetention: logs.RetentionDays;
}

export class Network extends Construct {
  readonly vpc: ec2.IVpc;
  /** One public subnet per AZ: the load balancer's nodes (and its Elastic IPs) live here. */
  readonly loadBalancerSubnets: ec2.ISubnet[];
  /** Where the listener tasks run. */
  readonly taskSubnets: ec2.SubnetSelection;
  /** Tasks in public subnets need a public IP to reach ECR, S3, SQS, DynamoDB, Secrets Manager. */
  readonly taskPublicIp: boolean;
  /** Subnets of the outbound function when it runs in the VPC (egress through NAT), else null. */
  readonly outboundSubnets: ec2.SubnetSelection | null;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const { context } = props;
    if (context.vpcId !== null) {
      this.vpc = ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: context.vpcId });
    } else {
      const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
      const subnetConfiguration: ec2.SubnetConfiguration[] = [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false }];
      if (context.natGateways > 0) subnetConfiguration.push({ name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 });
      this.vpc = new ec2.Vpc(this, 'Vpc', {
        ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
        maxAzs: 2,
        natGateways: context.natGateways,
        subnetConfiguration,
        // The default security group is unused; restricting it would need a custom-resource Lambda.
        restrictDefaultSecurityGroup: false,
        // Rejected flows only: enough to see scans and misconfigured rules, a fraction of the cost of ALL.
        flowLogs: { rejected: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: ec2.FlowLogTrafficType.REJECT } },
      });
    }
    this.loadBalancerSubnets = this.vpc.selectSubnets({ subnetType: ec2.SubnetType.PUBLIC, onePerAz: true }).subnets;
    this.taskPublicIp = context.taskSubnets === 'public';
    this.taskSubnets = { subnetType: this.taskPublicIp ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.outboundSubnets = context.outboundInVpc ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : null;
  }
}
