/**
 * The mail stack under non-default context (infra/context.ts): NAT and private subnets, the
 * outbound function in the VPC, existing secrets, a pre-built image, alarm e-mail, no deletion
 * protection — and the default shape without a smart host, which must warn about port 25.
 * Function bundling is skipped here (mail-stack.test.ts bundles).
 */
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailApp } from '#infra/mail-app.ts';
import { PORT_25_WARNING } from '#infra/mail-stack.ts';
import { asArray, BASE_CONTEXT, nagFindings, refTarget, resourcesOf, synthesize, type Synthesized, cfnLint } from './synth.ts';

const TLS_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:mail/tls-AbCdEf';
const DKIM_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:mail/dkim-GhIjKl';
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/cloudmail-listeners:1.0.0';

describe('with NAT, existing secrets, a pre-built image and alarm e-mail', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize(
      {
        'mail:stackName': 'MailProd',
        'mail:natGateways': 1,
        'mail:tlsSecretArn': TLS_ARN,
        'mail:dkimSecretArn': DKIM_ARN,
        'mail:containerImage': IMAGE,
        'mail:alarmEmail': 'ops@example.com',
        'mail:deletionProtection': 'false',
        'mail:minTasks': '2',
        'mail:maxTasks': '6',
        'mail:logRetentionDays': 90,
        'mail:containerInsights': false,
      },
      { bundle: false },
    );
  });
  afterAll(() => s?.cleanup());

  it('names the table and queues after the stack name', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'mailprod-mail-index', DeletionProtectionEnabled: false });
    for (const q of ['mailprod-ingest', 'mailprod-ingest-dlq', 'mailprod-outbound', 'mailprod-outbound-dlq'])
      s.template.hasResourceProperties('AWS::SQS::Queue', { QueueName: q });
  });

  it('runs the tasks in private subnets without public IPs, and the outbound function (only) in the VPC', () => {
    const [, service] = resourcesOf(s.json, 'AWS::ECS::Service')[0];
    expect(service.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
    const privateSubnets = resourcesOf(s.json, 'AWS::EC2::Subnet')
      .filter(([, sn]) => JSON.stringify(sn.Properties.Tags).includes('Private'))
      .map(([id]) => id);
    expect(privateSubnets).toHaveLength(2);
    expect(service.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets.map(refTarget).sort()).toEqual(privateSubnets.sort());
    s.template.resourceCountIs('AWS::EC2::NatGateway', 1);
    const fns = Object.fromEntries(resourcesOf(s.json, 'AWS::Lambda::Function').map(([, f]) => [f.Properties.Description.split(' ')[0], f.Properties]));
    expect(fns.outbound.VpcConfig.SubnetIds.map(refTarget).sort()).toEqual(privateSubnets.sort());
    expect(fns.ingest.VpcConfig).toBeUndefined();
  });

  it('uses the given secrets instead of making placeholders, and grants on exactly those ARNs', () => {
    s.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const statements = resourcesOf(s.json, 'AWS::IAM::Policy').flatMap(([, p]) => asArray<any>(p.Properties.PolicyDocument.Statement));
    const secretResources = statements
      .filter((st) => asArray<string>(st.Action).includes('secretsmanager:GetSecretValue'))
      .flatMap((st) => asArray(st.Resource));
    expect([...new Set(secretResources)].sort()).toEqual([DKIM_ARN, TLS_ARN]);
  });

  it('runs the given image; no image asset, no ECR pull rights', () => {
    const container = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions[0];
    expect(container.Image).toBe(IMAGE);
    expect(JSON.stringify(s.json)).not.toContain('ecr:GetAuthorizationToken');
  });

  it('sends alarms to an encrypted SNS topic with the e-mail subscription', () => {
    // The alarm topic (the other one is the push topic, infra/push.ts).
    const [topicId, topic] = resourcesOf(s.json, 'AWS::SNS::Topic').find(([, t]) => !String(t.Properties.TopicName ?? '').endsWith('-push'))!;
    expect(refTarget(topic.Properties.KmsMasterKeyId)).not.toBeNull();
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    const alarms = resourcesOf(s.json, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(5);
    for (const [, a] of alarms) expect(a.Properties.AlarmActions.map(refTarget)).toEqual([topicId]);
  });

  it('applies the task bounds, log retention and load balancer deletion protection from the context', () => {
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    s.template.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2 });
    for (const [, lg] of resourcesOf(s.json, 'AWS::Logs::LogGroup')) expect(lg.Properties.RetentionInDays).toBe(90);
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'deletion_protection.enabled', Value: 'false' }]),
    });
  });

  it('turns Container Insights off when asked', () => {
    s.template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'disabled' }] });
  });

  it('does not warn about port 25 (outbound leaves through the NAT gateway)', () => {
    expect(Annotations.fromStack(s.stack).findWarning('*', Match.stringLikeRegexp(PORT_25_WARNING))).toEqual([]);
  });

  it('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(s)).toEqual([]);
  });

  it('cfn-lint passes on the template', () => {
    expect(cfnLint(s)).toEqual({ output: '', status: 0 });
  });
});

describe('without a smart host or NAT', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize({}, { bundle: false });
  });
  afterAll(() => s?.cleanup());

  it('warns at synthesis that remote delivery cannot leave on port 25', () => {
    const warnings = Annotations.fromStack(s.stack).findWarning('*', Match.stringLikeRegexp('port 25'));
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0].entry.data)).toContain('mail:smartHost');
  });

  it('runs the tasks in public subnets with public IPs (no NAT cost) and the functions outside the VPC', () => {
    const [, service] = resourcesOf(s.json, 'AWS::ECS::Service')[0];
    expect(service.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('ENABLED');
    s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    for (const [, f] of resourcesOf(s.json, 'AWS::Lambda::Function')) expect(f.Properties.VpcConfig).toBeUndefined();
  });
});

describe('the app as `cdk synth` runs it', () => {
  it('fails the synthesis on an unacknowledged cdk-nag finding', () => {
    const outdir = mkdtempSync(path.join(os.tmpdir(), 'cloudmail-cdk-'));
    const exitCode = process.exitCode;
    try {
      const { app, stack } = createMailApp({ context: { ...BASE_CONTEXT, 'aws:cdk:bundling-stacks': [] }, outdir });
      // Unencrypted, no dead-letter queue, no TLS-only policy: AwsSolutions-SQS2/SQS3/SQS4.
      new sqs.Queue(stack, 'Careless', { encryption: sqs.QueueEncryption.UNENCRYPTED });
      expect(() => app.synth()).toThrow(/AwsSolutions-SQS2[\s\S]*AwsSolutions-SQS3/);
    } finally {
      process.exitCode = exitCode;
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
