/**
 * The synthesised mail stack (infra/), default shape with a smart host: every public port,
 * every queue → function wiring, dead-letter redrive, encryption, grants no wider than
 * needed, Lambda runtime and architecture, cdk-nag, cfn-lint. One synthesis (with real
 * esbuild bundling of the functions) for the whole file.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIL_INDEX_TABLE, PUSH, QUEUES, RESOURCE_ENV, resourceNames } from '#core/resources.ts';
import type { QueueName } from '#core/ports/work-queue.ts';
import { LISTENER_PORTS, PROXY_ENV } from '#infra/listeners.ts';
import { PORT_25_WARNING } from '#infra/mail-stack.ts';
import { CONSUMERS, functionTimeoutSeconds } from '#infra/pipeline.ts';
import { PUSH_QUEUE_ACTIONS } from '#infra/push.ts';
import { asArray, nagFindings, refTarget, resourcesOf, synthesize, type Synthesized, cfnLint } from './synth.ts';

let s: Synthesized;
beforeAll(() => {
  s = synthesize({ 'mail:smartHost': 'email-smtp.eu-west-1.amazonaws.com:587' });
});
afterAll(() => s?.cleanup());

const names = resourceNames('Cloudmail');

function queueId(name: string): string {
  const found = resourcesOf(s.json, 'AWS::SQS::Queue').find(([, r]) => r.Properties.QueueName === name);
  if (!found) throw new Error(`no queue named ${name}`);
  return found[0];
}

/** Allow statements of the IAM policies attached to the role with this logical id. */
function allowStatements(roleId: string): Array<{ actions: string[]; resources: unknown[] }> {
  return resourcesOf(s.json, 'AWS::IAM::Policy')
    .filter(([, p]) => asArray(p.Properties.Roles).some((r) => refTarget(r) === roleId))
    .flatMap(([, p]) => asArray<any>(p.Properties.PolicyDocument.Statement))
    .filter((st) => st.Effect === 'Allow')
    .map((st) => ({ actions: asArray<string>(st.Action), resources: asArray(st.Resource) }));
}

function actionsOn(roleId: string, resourceId: string): string[] {
  return allowStatements(roleId)
    .filter((st) => st.resources.some((r) => JSON.stringify(r).includes(`"${resourceId}"`)))
    .flatMap((st) => st.actions)
    .sort();
}

function functionRoleId(name: QueueName): string {
  const [, fn] = resourcesOf(s.json, 'AWS::Lambda::Function').find(([, r]) => r.Properties.Description?.startsWith(`${name} queue consumer`))!;
  return refTarget(fn.Properties.Role)!;
}

const taskRoleId = () => refTarget(resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties.TaskRoleArn)!;
const bucketId = () => resourcesOf(s.json, 'AWS::S3::Bucket')[0][0];
const tableId = () => resourcesOf(s.json, 'AWS::DynamoDB::Table')[0][0];

describe('load balancer and listeners', () => {
  it('has a TCP listener for each of 25, 465, 587, 110, 995, 143, 993, 443 and no other', () => {
    const ports = resourcesOf(s.json, 'AWS::ElasticLoadBalancingV2::Listener')
      .map(([, l]) => l.Properties.Port)
      .sort((a, b) => a - b);
    expect(ports).toEqual([25, 110, 143, 443, 465, 587, 993, 995]);
    for (const [, l] of resourcesOf(s.json, 'AWS::ElasticLoadBalancingV2::Listener')) expect(l.Properties.Protocol).toBe('TCP');
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internet-facing' });
  });

  it.each(LISTENER_PORTS.map((p) => [p.publicPort, p] as const))(
    'port %i forwards to an ip target group on the container port with proxy protocol v2',
    (_port, p) => {
      const [, listener] = resourcesOf(s.json, 'AWS::ElasticLoadBalancingV2::Listener').find(([, l]) => l.Properties.Port === p.publicPort)!;
      const tgId = refTarget(listener.Properties.DefaultActions[0].TargetGroupArn)!;
      const tg = s.json.Resources[tgId].Properties;
      expect(tg).toMatchObject({ Port: p.containerPort, Protocol: 'TCP', TargetType: 'ip', HealthCheckProtocol: 'TCP' });
      const attrs = Object.fromEntries(tg.TargetGroupAttributes.map((a: any) => [a.Key, a.Value]));
      expect(attrs['proxy_protocol_v2.enabled']).toBe('true');
      expect(attrs['preserve_client_ip.enabled']).toBe('false');
      expect(attrs['deregistration_delay.timeout_seconds']).toBe(String(p.deregistrationDelaySeconds));
      // The service registers its tasks in this target group on the same container port.
      const [, service] = resourcesOf(s.json, 'AWS::ECS::Service')[0];
      expect(service.Properties.LoadBalancers).toContainEqual({ ContainerName: 'listeners', ContainerPort: p.containerPort, TargetGroupArn: { Ref: tgId } });
      // The container binds that port, told through the core/config.ts variable.
      const container = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions[0];
      expect(container.PortMappings).toContainEqual(expect.objectContaining({ ContainerPort: p.containerPort, Protocol: 'tcp' }));
      expect(container.Environment).toContainEqual({ Name: p.env, Value: String(p.containerPort) });
      // Reachable from the internet on the public port (the load balancer's security group).
      const [, lb] = resourcesOf(s.json, 'AWS::ElasticLoadBalancingV2::LoadBalancer')[0];
      const lbGroup = s.json.Resources[refTarget(lb.Properties.SecurityGroups[0])!].Properties;
      expect(lbGroup.SecurityGroupIngress).toContainEqual(
        expect.objectContaining({ IpProtocol: 'tcp', FromPort: p.publicPort, ToPort: p.publicPort, CidrIp: '0.0.0.0/0' }),
      );
    },
  );

  it('passes HTTPS (443) through as TCP to the container, which terminates TLS with the mail certificate', () => {
    const [, l] = resourcesOf(s.json, 'AWS::ElasticLoadBalancingV2::Listener').find(([, x]) => x.Properties.Port === 443)!;
    expect(l.Properties.Protocol).toBe('TCP');
    expect(l.Properties.Certificates).toBeUndefined();
    const tg = s.json.Resources[refTarget(l.Properties.DefaultActions[0].TargetGroupArn)!].Properties;
    expect(tg).toMatchObject({ Port: 8443, Protocol: 'TCP', HealthCheckProtocol: 'TCP' });
    const container = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions[0];
    expect(container.Environment).toContainEqual({ Name: 'HTTPS_PORT', Value: '8443' });
    // The plain development listener is not published: no HTTP_PORT mapping, no port 80.
    expect(container.PortMappings.map((m: any) => m.ContainerPort)).not.toContain(8080);
    expect(container.Environment.find((e: any) => e.Name === 'HTTP_BIND')).toBeUndefined();
  });

  it('keeps silent IMAP and POP3 flows open past the RFC autologout minimums', () => {
    const idle = (port: number) => {
      const [, l] = resourcesOf(s.json, 'AWS::ElasticLoadBalancingV2::Listener').find(([, x]) => x.Properties.Port === port)!;
      const attr = asArray<any>(l.Properties.ListenerAttributes).find((a) => a.Key === 'tcp.idle_timeout.seconds');
      return attr ? Number(attr.Value) : 350; // NLB default
    };
    // RFC 9051 §5.4: at least 30 minutes; RFC 2177: IDLE re-issued every 29 minutes.
    expect(idle(143)).toBeGreaterThan(30 * 60);
    expect(idle(993)).toBeGreaterThan(30 * 60);
    // RFC 1939 §3: at least 10 minutes.
    expect(idle(110)).toBeGreaterThan(10 * 60);
    expect(idle(995)).toBeGreaterThan(10 * 60);
  });

  it('admits traffic to the tasks only from the load balancer, on the container ports', () => {
    const [taskSgId] = resourcesOf(s.json, 'AWS::EC2::SecurityGroup').find(([, g]) => g.Properties.GroupDescription.startsWith('Mail listeners'))!;
    const ingress = resourcesOf(s.json, 'AWS::EC2::SecurityGroupIngress').filter(([, r]) => refTarget(r.Properties.GroupId) === taskSgId);
    expect(ingress.map(([, r]) => r.Properties.FromPort).sort()).toEqual(LISTENER_PORTS.map((p) => p.containerPort).sort());
    for (const [, r] of ingress) {
      expect(r.Properties.CidrIp).toBeUndefined();
      expect(refTarget(r.Properties.SourceSecurityGroupId)).not.toBeNull();
    }
  });

  it('tells the listeners to expect proxy protocol v2 from the load balancer subnets only', () => {
    const env = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions[0].Environment;
    const get = (n: string) => env.find((e: any) => e.Name === n)?.Value;
    expect(get(PROXY_ENV.protocol)).toBe('v2');
    const publicCidrs = resourcesOf(s.json, 'AWS::EC2::Subnet')
      .filter(([, sn]) => sn.Properties.MapPublicIpOnLaunch === false && JSON.stringify(sn.Properties.Tags).includes('Public'))
      .map(([, sn]) => sn.Properties.CidrBlock);
    expect(publicCidrs.length).toBe(2);
    expect(String(get(PROXY_ENV.trustedCidrs)).split(',').sort()).toEqual(publicCidrs.sort());
  });

  it('runs an arm64 Fargate task, non-root image asset with a health check and a read-only root', () => {
    const td = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties;
    expect(td.RuntimePlatform).toEqual({ CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' });
    expect(td.RequiresCompatibilities).toEqual(['FARGATE']);
    const c = td.ContainerDefinitions[0];
    expect(c.ReadonlyRootFilesystem).toBe(true);
    expect(c.HealthCheck.Command).toEqual(['CMD', 'node', '/app/healthcheck.mjs']);
    expect(c.LogConfiguration.LogDriver).toBe('awslogs');
    const assets = JSON.parse(readFileSync(path.join(s.outdir, `${s.stack.artifactId}.assets.json`), 'utf8'));
    const images = Object.values(assets.dockerImages) as any[];
    expect(images).toHaveLength(1);
    expect(images[0].source).toMatchObject({ dockerFile: 'fargate-listeners/Dockerfile', platform: 'linux/arm64' });
    // The root .dockerignore keeps the build context to what the image needs.
    const staged = path.join(s.outdir, images[0].source.directory);
    expect(existsSync(path.join(staged, 'fargate-listeners/Dockerfile'))).toBe(true);
    // The webmail's sources, built into the image (/app/webmail, WEBMAIL_DIR).
    expect(existsSync(path.join(staged, 'webmail/build.ts'))).toBe(true);
    expect(existsSync(path.join(staged, 'webmail/src/main.tsx'))).toBe(true);
    expect(existsSync(path.join(staged, 'node_modules'))).toBe(false);
    expect(existsSync(path.join(staged, 'test'))).toBe(false);
    const dockerfile = readFileSync(path.join(staged, 'fargate-listeners/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^FROM node:24-slim$/m);
  });

  it('scales the service between the context bounds on CPU and on connections per task', () => {
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 1,
      MaxCapacity: 4,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    s.template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } },
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 2000,
        CustomizedMetricSpecification: { Metrics: Match.arrayWith([Match.objectLike({ Expression: 'flows / tasks', ReturnData: true })]) },
      },
    });
  });
});

describe('queues and functions', () => {
  it.each(Object.keys(QUEUES) as QueueName[])('%s queue: encrypted, TLS-only, dead-letter redrive after maxReceiveCount from core/resources.ts', (name) => {
    const def = QUEUES[name];
    const qId = queueId(names.queues[name].name);
    const dlqId = queueId(names.queues[name].deadLetterName);
    const q = s.json.Resources[qId].Properties;
    expect(q.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: def.maxReceiveCount });
    expect(q.VisibilityTimeout).toBe(def.visibilityTimeoutSeconds);
    expect(q.MessageRetentionPeriod).toBe(def.retentionSeconds);
    expect(s.json.Resources[dlqId].Properties.MessageRetentionPeriod).toBe(def.deadLetterRetentionSeconds);
    for (const id of [qId, dlqId]) {
      expect(s.json.Resources[id].Properties.SqsManagedSseEnabled).toBe(true);
      const policy = resourcesOf(s.json, 'AWS::SQS::QueuePolicy').find(([, p]) => p.Properties.Queues.some((x: unknown) => refTarget(x) === id));
      expect(JSON.stringify(policy?.[1].Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it.each(Object.keys(QUEUES) as QueueName[])('%s queue feeds its function with batch item failures, deliberate batching and concurrency', (name) => {
    const qId = queueId(names.queues[name].name);
    const mappings = resourcesOf(s.json, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => refTarget(m.Properties.EventSourceArn) === qId);
    expect(mappings).toHaveLength(1);
    const m = mappings[0][1].Properties;
    const consumer = CONSUMERS[name];
    expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(m.BatchSize).toBe(consumer.batchSize);
    expect(m.MaximumBatchingWindowInSeconds).toBe(consumer.batchingWindowSeconds);
    expect(m.ScalingConfig).toEqual({ MaximumConcurrency: consumer.maxConcurrency });
    const fn = s.json.Resources[refTarget(m.FunctionName)!].Properties;
    expect(fn.Description).toContain(consumer.entry);
    expect(fn.Runtime).toBe('nodejs24.x');
    expect(fn.Architectures).toEqual(['arm64']);
    // The function must finish well within the visibility timeout, or jobs run twice at once.
    expect(fn.Timeout).toBe(functionTimeoutSeconds(QUEUES[name]));
    expect(fn.Timeout * 6).toBeLessThanOrEqual(QUEUES[name].visibilityTimeoutSeconds);
    // Its role may consume exactly this queue; outbound also re-sends deferred jobs to it, ingest queues vacation auto-replies.
    const consume = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'];
    const expected = [...new Set([...consume, 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'])].sort();
    expect([...new Set(actionsOn(refTarget(fn.Role)!, qId))].sort()).toEqual(expected);
  });

  it('gives every function and the listeners the resource environment of core/resources.ts', () => {
    const fns = resourcesOf(s.json, 'AWS::Lambda::Function').map(([, f]) => f.Properties.Environment.Variables);
    const container = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions[0];
    const containerEnv = Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]));
    for (const env of fns) expect(refTarget(env.DKIM_KEYS_SECRET_ARN)).not.toBeNull();
    expect(refTarget(containerEnv.TLS_SECRET_ARN)).not.toBeNull();
    for (const env of [...fns, containerEnv]) {
      expect(env.MAIL_RUNTIME).toBe('aws');
      expect(refTarget(env[RESOURCE_ENV.bucket])).toBe(bucketId());
      expect(refTarget(env[RESOURCE_ENV.table])).toBe(tableId());
      expect(refTarget(env[RESOURCE_ENV.ingestQueueUrl])).toBe(queueId(names.queues.ingest.name));
      expect(refTarget(env[RESOURCE_ENV.ingestDeadLetterQueueUrl])).toBe(queueId(names.queues.ingest.deadLetterName));
      expect(refTarget(env[RESOURCE_ENV.outboundQueueUrl])).toBe(queueId(names.queues.outbound.name));
      expect(refTarget(env[RESOURCE_ENV.outboundDeadLetterQueueUrl])).toBe(queueId(names.queues.outbound.deadLetterName));
    }
  });

  it('bundles each function with esbuild into an ES module asset', () => {
    const assets = JSON.parse(readFileSync(path.join(s.outdir, `${s.stack.artifactId}.assets.json`), 'utf8'));
    const code = resourcesOf(s.json, 'AWS::Lambda::Function').map(([, f]) => f.Properties.Code.S3Key.replace(/\.zip$/, ''));
    for (const hash of code) {
      const dir = path.join(s.outdir, assets.files[hash].source.path);
      expect(existsSync(path.join(dir, 'index.mjs'))).toBe(true);
      expect(readFileSync(path.join(dir, 'index.mjs'), 'utf8')).toMatch(/handler/);
    }
  });
});

describe('storage', () => {
  it('bucket: encrypted, public access blocked, TLS only, versioned, lifecycle for uploads and orphans', () => {
    const b = s.json.Resources[bucketId()].Properties;
    expect(b.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(b.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(b.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    const rules = b.LifecycleConfiguration.Rules;
    expect(rules).toContainEqual(expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }));
    // No rule expires untagged messages: stored bytes live as long as a mailbox references them.
    // Only outbound copies (owned by a job that ends within days) and JMAP uploads (copied into
    // the message that uses them) expire by age.
    expect(rules).toContainEqual(expect.objectContaining({ Prefix: 'outbound/', ExpirationInDays: 30 }));
    expect(rules).toContainEqual(expect.objectContaining({ Prefix: 'jmap-uploads/', ExpirationInDays: 1 }));
    for (const r of rules) if (r.ExpirationInDays !== undefined) expect(['outbound/', 'jmap-uploads/']).toContain(r.Prefix);
    const [, policy] = resourcesOf(s.json, 'AWS::S3::BucketPolicy').find(([, p]) => refTarget(p.Properties.Bucket) === bucketId())!;
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('table: key schema and TTL from core/resources.ts, on demand, PITR, encrypted, deletion protection', () => {
    const t = s.json.Resources[tableId()].Properties;
    expect(t.TableName).toBe(names.table);
    expect(t.KeySchema).toEqual([
      { AttributeName: MAIL_INDEX_TABLE.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: MAIL_INDEX_TABLE.sortKey.name, KeyType: 'RANGE' },
    ]);
    expect(t.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: MAIL_INDEX_TABLE.partitionKey.name, AttributeType: MAIL_INDEX_TABLE.partitionKey.type },
        { AttributeName: MAIL_INDEX_TABLE.sortKey.name, AttributeType: MAIL_INDEX_TABLE.sortKey.type },
      ]),
    );
    expect(t.GlobalSecondaryIndexes ?? []).toHaveLength(MAIL_INDEX_TABLE.globalSecondaryIndexes.length);
    expect(t.BillingMode).toBe('PAY_PER_REQUEST');
    expect(t.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(t.SSESpecification).toEqual({ SSEEnabled: true });
    expect(t.TimeToLiveSpecification).toEqual({ AttributeName: MAIL_INDEX_TABLE.timeToLiveAttribute, Enabled: true });
    expect(t.DeletionProtectionEnabled).toBe(true);
    s.template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    s.template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });
});

describe('grants', () => {
  it('no IAM policy allows a wildcard action, and data actions never apply to Resource "*"', () => {
    const statements = resourcesOf(s.json, 'AWS::IAM::Policy')
      .flatMap(([, p]) => asArray<any>(p.Properties.PolicyDocument.Statement))
      .filter((st) => st.Effect === 'Allow');
    expect(statements.length).toBeGreaterThan(5);
    for (const st of statements) {
      for (const action of asArray<string>(st.Action)) {
        expect(action, JSON.stringify(st)).not.toContain('*');
        if (/^(s3|dynamodb|sqs|secretsmanager):/.test(action)) expect(asArray(st.Resource)).not.toContain('*');
      }
    }
  });

  it('the listeners may store and read messages, use the index, queue ingest jobs and read the TLS secret — nothing else', () => {
    const role = taskRoleId();
    expect(actionsOn(role, bucketId())).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    expect(actionsOn(role, tableId())).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(actionsOn(role, queueId(names.queues.ingest.name))).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    for (const other of [names.queues.outbound.name, names.queues.ingest.deadLetterName, names.queues.outbound.deadLetterName])
      expect(actionsOn(role, queueId(other))).toEqual([]);
    const secrets = resourcesOf(s.json, 'AWS::SecretsManager::Secret');
    const tls = secrets.find(([, r]) => r.Properties.Description.startsWith('TLS'))![0];
    expect(actionsOn(role, tls)).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    for (const [id] of secrets.filter(([sid]) => sid !== tls)) expect(actionsOn(role, id)).toEqual([]);
    // Object actions only under the message prefix.
    const objectStatement = allowStatements(role).find((st) => st.actions.includes('s3:GetObject'))!;
    expect(JSON.stringify(objectStatement.resources)).toContain('/messages/*');
  });

  it("ingest may read the contact settings that say whether to collect a sender's recipients (settings/contacts/), and not write them", () => {
    const statements = allowStatements(functionRoleId('ingest')).filter((st) => JSON.stringify(st.resources).includes('/settings/contacts/*'));
    expect(statements.flatMap((st) => st.actions)).toEqual(['s3:GetObject']);
  });

  it('ingest may send to outbound but not consume it; outbound may send bounces to ingest; both read DKIM keys, only outbound the smart-host secret', () => {
    const ingest = functionRoleId('ingest');
    const outbound = functionRoleId('outbound');
    expect(actionsOn(ingest, queueId(names.queues.outbound.name))).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    expect(actionsOn(outbound, queueId(names.queues.ingest.name))).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
    const secret = (prefix: string) => resourcesOf(s.json, 'AWS::SecretsManager::Secret').find(([, r]) => r.Properties.Description.startsWith(prefix))![0];
    expect(actionsOn(outbound, secret('DKIM'))).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    expect(actionsOn(outbound, secret('Credentials for the smart host'))).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    expect(actionsOn(outbound, secret('TLS'))).toEqual([]);
    expect(actionsOn(ingest, secret('DKIM'))).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    expect(actionsOn(ingest, secret('Credentials for the smart host'))).toEqual([]);
    expect(actionsOn(ingest, secret('TLS'))).toEqual([]);
    expect(actionsOn(ingest, queueId(names.queues.outbound.name))).not.toContain('sqs:ReceiveMessage');
    // Vacation auto-replies are new ingest jobs, queued by the ingest function (core/delivery/vacation.ts).
    expect(actionsOn(ingest, queueId(names.queues.ingest.name))).toContain('sqs:SendMessage');
    // No function role carries an AWS-managed policy (they log to their own group only).
    for (const role of [ingest, outbound]) expect(s.json.Resources[role].Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('secrets', () => {
  it('passes secret ARNs, never values: placeholders are generated by Secrets Manager, not written in the template', () => {
    for (const [, secret] of resourcesOf(s.json, 'AWS::SecretsManager::Secret')) {
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.Properties.GenerateSecretString).toBeDefined();
    }
    const text = JSON.stringify(s.json);
    expect(text).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    const container = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions[0];
    expect(container.Secrets).toBeUndefined();
    const outbound = resourcesOf(s.json, 'AWS::Lambda::Function').find(([, f]) => f.Properties.Description.startsWith('outbound'))![1].Properties.Environment
      .Variables;
    expect(outbound).toMatchObject({ SMART_HOST: 'email-smtp.eu-west-1.amazonaws.com', SMART_HOST_PORT: '587', SMART_HOST_TLS: 'starttls' });
    expect(refTarget(outbound.SMART_HOST_SECRET_ARN)).not.toBeNull();
    expect(outbound.SMART_HOST_PASSWORD).toBeUndefined();
  });
});

describe('observability', () => {
  it('alarms on each dead-letter queue and on the age of the oldest job in each queue', () => {
    for (const name of Object.keys(QUEUES) as QueueName[]) {
      const dims = (id: string) => [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } }];
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: dims(queueId(names.queues[name].deadLetterName)),
        Threshold: 1,
      });
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: dims(queueId(names.queues[name].name)),
      });
    }
  });

  it('counts accepted, delivered and bounced messages and active connections from the JSON logs, on a dashboard', () => {
    const filters = resourcesOf(s.json, 'AWS::Logs::MetricFilter').map(([, f]) => f.Properties.MetricTransformations[0].MetricName);
    expect(new Set(filters)).toEqual(new Set(['MessagesAccepted', 'MessagesDelivered', 'MessagesDeferred', 'MessagesBounced', 'ActiveConnections']));
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    for (const [, lg] of resourcesOf(s.json, 'AWS::Logs::LogGroup')) expect(lg.Properties.RetentionInDays).toBe(30);
  });

  it('publishes what mailctl needs as outputs', () => {
    const outputs = s.json.Outputs as Record<string, any>;
    for (const key of [
      'MailBucket',
      'MailTable',
      'IngestQueueUrl',
      'IngestDeadLetterQueueUrl',
      'OutboundQueueUrl',
      'OutboundDeadLetterQueueUrl',
      'MailctlEnvironment',
      'MailAddresses',
      'LoadBalancerDnsName',
      'TlsSecretArn',
      'DkimSecretArn',
      'MxRecords',
      'ClusterName',
      'ServiceName',
    ]) {
      expect(outputs[key], key).toBeDefined();
    }
    expect(outputs.MxRecords.Value).toBe('example.com. MX 10 mail.example.com. | example.org. MX 10 mail.example.com.');
    const env = JSON.stringify(outputs.MailctlEnvironment.Value);
    for (const v of Object.values(RESOURCE_ENV)) expect(env).toContain(`${v}=`);
    // What `mailctl domain show` publishes: the server's name and, for SPF, the smart host.
    expect(env).toContain('MAIL_HOSTNAME=mail.example.com');
    expect(env).toContain('SMART_HOST=email-smtp.eu-west-1.amazonaws.com');
  });
});

describe('checks', () => {
  it('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(s)).toEqual([]);
  });

  it('no error and, with a smart host, no warning annotations', () => {
    const annotations = Annotations.fromStack(s.stack);
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.stringLikeRegexp(PORT_25_WARNING))).toEqual([]);
  });

  it('cfn-lint passes on the template', () => {
    expect(cfnLint(s)).toEqual({ output: '', status: 0 });
  });
});

describe('push between listener tasks', () => {
  const topicId = () => resourcesOf(s.json, 'AWS::SNS::Topic')[0][0];
  const queueStatements = (roleId: string) => allowStatements(roleId).filter((st) => st.actions.some((a) => a.startsWith('sqs:')));

  it('has one topic, encrypted, TLS-only, named after the stack', () => {
    const topics = resourcesOf(s.json, 'AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    expect(topics[0][1].Properties.TopicName).toBe(PUSH.topicName('Cloudmail'));
    expect(topics[0][1].Properties.KmsMasterKeyId).toBeTruthy();
    const policies = resourcesOf(s.json, 'AWS::SNS::TopicPolicy');
    const denyPlain = policies
      .flatMap(([, p]) => asArray<any>(p.Properties.PolicyDocument.Statement))
      .find((st) => st.Effect === 'Deny' && st.Condition?.Bool?.['aws:SecureTransport'] === 'false');
    expect(denyPlain).toBeDefined();
  });

  it('tells every function and the listeners the topic and the queue prefix', () => {
    const fns = resourcesOf(s.json, 'AWS::Lambda::Function').map(([, f]) => f.Properties.Environment.Variables);
    const container = resourcesOf(s.json, 'AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions[0];
    const containerEnv = Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]));
    for (const env of [...fns, containerEnv]) {
      expect(refTarget(env[PUSH.env.topicArn])).toBe(topicId());
      expect(env[PUSH.env.queuePrefix]).toBe(PUSH.queuePrefix('Cloudmail'));
    }
  });

  it('functions may only publish to the topic; the task role may also subscribe its own queues, made and read only under the push prefix', () => {
    for (const fn of ['ingest', 'outbound'] as const) {
      const role = functionRoleId(fn);
      expect(actionsOn(role, topicId())).toEqual(['sns:Publish']);
      expect(
        allowStatements(role)
          .flatMap((st) => st.actions)
          .filter((a) => a.startsWith('sns:')),
      ).toEqual(['sns:Publish']);
    }
    const role = taskRoleId();
    expect(actionsOn(role, topicId())).toEqual(['sns:ListSubscriptionsByTopic', 'sns:Publish', 'sns:Subscribe', 'sns:Unsubscribe']);
    const statements = queueStatements(role);
    const own = statements.filter((st) => JSON.stringify(st.resources).includes(`:${PUSH.queuePrefix('Cloudmail')}*`));
    expect(own).toHaveLength(1);
    expect(own[0].resources).toHaveLength(1);
    expect(JSON.stringify(own[0].resources)).toMatch(new RegExp(`:${PUSH.queuePrefix('Cloudmail')}\\*"\\]\\]\\}\\]$`));
    expect([...own[0].actions].sort()).toEqual([...PUSH_QUEUE_ACTIONS].sort());
    // Queue management (create, delete, set attributes, tag) on no other queue.
    for (const st of statements.filter((x) => x !== own[0])) {
      for (const a of ['sqs:CreateQueue', 'sqs:DeleteQueue', 'sqs:SetQueueAttributes', 'sqs:TagQueue']) expect(st.actions).not.toContain(a);
    }
    // The pipeline's queues are not under the push prefix, so the wildcard cannot reach them;
    // nor are another stack's, even one whose name starts with this stack's push names.
    for (const stack of ['Cloudmail', 'Cloudmail-push', 'Cloudmail-push-eu', 'cloudmail-push-x']) {
      for (const q of Object.values(resourceNames(stack).queues)) {
        expect(q.name.startsWith(PUSH.queuePrefix('Cloudmail'))).toBe(false);
        expect(q.deadLetterName.startsWith(PUSH.queuePrefix('Cloudmail'))).toBe(false);
      }
      if (stack !== 'Cloudmail') expect(PUSH.topicName(stack).startsWith(PUSH.queuePrefix('Cloudmail'))).toBe(false);
    }
    // Nor another stack's task queues (valid stack names hold no '_').
    expect(PUSH.queuePrefix('Cloudmail-push-eu').startsWith(PUSH.queuePrefix('Cloudmail'))).toBe(false);
  });
});
