/**
 * Observability: metrics drawn from the JSON logs (core/log.ts: one object per line with a
 * `msg` field), alarms on the queues and the listeners, and one CloudWatch dashboard.
 *
 * Log contract (LOG_METRICS) — the log lines the metric filters count (`msg` values of the
 * existing code; change both together):
 *  - `message accepted`  SMTP listeners, once per message after `250` to DATA
 *                        (fargate-listeners/src/smtp/accept-message.ts)
 *  - `delivered`         ingest: once per local recipient, `duplicate: false` counts
 *                        (core/ingest/ingest-job.ts); outbound: once per successful remote
 *                        transaction (core/outbound/outbound-job.ts)
 *  - `deferred`          outbound: temporary failure, retried later
 *  - `delivery failed`   outbound: permanent failure, a bounce (DSN) follows
 *  - `connections`       every listener, every 60 s: `{"listener": "imap", "active": 12}`
 *                        (a gauge per listener and task, summed per minute across tasks;
 *                        listener names as in infra/listeners.ts LISTENER_PORTS)
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { QueueName } from '#core/ports/work-queue.ts';
import type { Listeners } from './listeners.ts';
import { LISTENER_PORTS } from './listeners.ts';
import type { MailQueue } from './pipeline.ts';

export const LOG_METRICS = {
  accepted: { metricName: 'MessagesAccepted', pattern: '{ $.msg = "message accepted" }' },
  deliveredLocal: { metricName: 'MessagesDelivered', pattern: '{ $.msg = "delivered" && $.duplicate IS FALSE }' },
  deliveredRemote: { metricName: 'MessagesDelivered', pattern: '{ $.msg = "delivered" }' },
  deferred: { metricName: 'MessagesDeferred', pattern: '{ $.msg = "deferred" }' },
  bounced: { metricName: 'MessagesBounced', pattern: '{ $.msg = "delivery failed" }' },
  connections: { metricName: 'ActiveConnections', pattern: '{ $.msg = "connections" }', value: '$.active', dimensions: { Listener: '$.listener' } },
} as const;

/** Alarm when a job has waited this long (seconds) in the queue: ingest should be near-instant; outbound holds retries. */
export const OLDEST_MESSAGE_ALARM_SECONDS: Record<QueueName, number> = { ingest: 15 * 60, outbound: 6 * 3600 };

export interface ObservabilityProps {
  queues: Record<QueueName, MailQueue>;
  functions: Record<QueueName, lambda.IFunction>;
  functionLogs: Record<QueueName, logs.ILogGroup>;
  listeners: Listeners;
  alarmEmail: string | null;
}

export class Observability extends Construct {
  readonly namespace: string;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic: sns.Topic | null = null;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.namespace = `Cloudmail/${stack.stackName}`;
    const ns = this.namespace;

    // --- metrics from the logs
    const filter = (logGroup: logs.ILogGroup, fid: string, m: { metricName: string; pattern: string; value?: string; dimensions?: Record<string, string> }) =>
      new logs.MetricFilter(this, fid, {
        logGroup,
        metricNamespace: ns,
        metricName: m.metricName,
        filterPattern: logs.FilterPattern.literal(m.pattern),
        metricValue: m.value ?? '1',
        dimensions: m.dimensions,
        unit: cloudwatch.Unit.COUNT,
      });
    filter(props.listeners.logGroup, 'AcceptedFilter', LOG_METRICS.accepted);
    filter(props.listeners.logGroup, 'ConnectionsFilter', LOG_METRICS.connections);
    filter(props.functionLogs.ingest, 'DeliveredLocalFilter', LOG_METRICS.deliveredLocal);
    filter(props.functionLogs.outbound, 'DeliveredRemoteFilter', LOG_METRICS.deliveredRemote);
    filter(props.functionLogs.outbound, 'DeferredFilter', LOG_METRICS.deferred);
    filter(props.functionLogs.outbound, 'BouncedFilter', LOG_METRICS.bounced);
    const count = (metricName: string, label: string) =>
      new cloudwatch.Metric({ namespace: ns, metricName, statistic: 'Sum', period: Duration.minutes(5), label });

    // --- alarms
    if (props.alarmEmail !== null) {
      // SNS2: encrypted topic. CloudWatch must be allowed to use the key, which an
      // AWS-managed key (alias/aws/sns) does not allow: hence a customer-managed one.
      const key = new kms.Key(this, 'AlarmTopicKey', { enableKeyRotation: true, description: 'Encrypts the mail alarms topic' });
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'], // in a key policy, "*" means this key
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      );
      this.topic = new sns.Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true, displayName: `${stack.stackName} mail alarms` });
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    const alarm = (aid: string, a: cloudwatch.AlarmProps) => {
      const created = new cloudwatch.Alarm(this, aid, a);
      if (this.topic) {
        created.addAlarmAction(new actions.SnsAction(this.topic));
        created.addOkAction(new actions.SnsAction(this.topic));
      }
      this.alarms.push(created);
      return created;
    };
    for (const name of Object.keys(props.queues) as QueueName[]) {
      const { queue, deadLetters } = props.queues[name];
      alarm(`${name}DeadLetterAlarm`, {
        alarmDescription: `Jobs in the ${name} dead-letter queue: they failed ${props.queues[name].definition.maxReceiveCount} times. Inspect them with mailctl, fix, then redrive.`,
        metric: deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm(`${name}OldestMessageAlarm`, {
        alarmDescription: `A job has waited over ${OLDEST_MESSAGE_ALARM_SECONDS[name] / 60} minutes in the ${name} queue: the ${name} function is failing, throttled, or behind.`,
        metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: OLDEST_MESSAGE_ALARM_SECONDS[name],
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    const smtpTargets = props.listeners.targetGroups['smtp-mx'];
    alarm('NoHealthyListenerAlarm', {
      alarmDescription: 'No healthy listener task behind port 25: inbound mail is being deferred by senders.',
      metric: smtpTargets.metrics.healthyHostCount({ period: Duration.minutes(1), statistic: 'Minimum' }),
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    // --- dashboard
    const queueNames = Object.keys(props.queues) as QueueName[];
    const lb = props.listeners.loadBalancer;
    const service = props.listeners.service;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${stack.stackName}-mail`,
      defaultInterval: Duration.hours(6),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Messages (per 5 min)',
            width: 12,
            left: [
              count('MessagesAccepted', 'accepted (SMTP 250)'),
              count('MessagesDelivered', 'delivered'),
              count('MessagesDeferred', 'deferred (retrying)'),
              count('MessagesBounced', 'bounced'),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Active connections per listener',
            width: 12,
            left: LISTENER_PORTS.map(
              (p) =>
                new cloudwatch.Metric({
                  namespace: ns,
                  metricName: 'ActiveConnections',
                  dimensionsMap: { Listener: p.name },
                  statistic: 'Sum',
                  period: Duration.minutes(1),
                  label: `${p.name} (${p.publicPort})`,
                }),
            ),
            right: [lb.metrics.activeFlowCount({ period: Duration.minutes(1), statistic: 'Average', label: 'NLB active flows (all ports)' })],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Queue depth',
            width: 8,
            left: queueNames.map((n) =>
              props.queues[n].queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum', label: `${n} visible` }),
            ),
            right: queueNames.map((n) =>
              props.queues[n].queue.metricApproximateNumberOfMessagesNotVisible({ period: Duration.minutes(1), statistic: 'Maximum', label: `${n} in flight` }),
            ),
          }),
          new cloudwatch.GraphWidget({
            title: 'Dead-letter queues',
            width: 8,
            left: queueNames.map((n) =>
              props.queues[n].deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum', label: `${n} DLQ` }),
            ),
          }),
          new cloudwatch.GraphWidget({
            title: 'Age of oldest job (s)',
            width: 8,
            left: queueNames.map((n) =>
              props.queues[n].queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum', label: n }),
            ),
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Lambda errors and throttles',
            width: 8,
            left: queueNames.flatMap((n) => [
              props.functions[n].metricErrors({ period: Duration.minutes(5), statistic: 'Sum', label: `${n} errors` }),
              props.functions[n].metricThrottles({ period: Duration.minutes(5), statistic: 'Sum', label: `${n} throttles` }),
            ]),
          }),
          new cloudwatch.GraphWidget({
            title: 'Lambda duration (ms)',
            width: 8,
            left: queueNames.flatMap((n) => [
              props.functions[n].metricDuration({ period: Duration.minutes(5), statistic: 'p50', label: `${n} p50` }),
              props.functions[n].metricDuration({ period: Duration.minutes(5), statistic: 'p99', label: `${n} p99` }),
            ]),
          }),
          new cloudwatch.GraphWidget({
            title: 'Lambda invocations',
            width: 8,
            left: queueNames.map((n) => props.functions[n].metricInvocations({ period: Duration.minutes(5), statistic: 'Sum', label: n })),
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Listener tasks',
            width: 12,
            left: [
              service.metricCpuUtilization({ period: Duration.minutes(1), label: 'CPU %' }),
              service.metricMemoryUtilization({ period: Duration.minutes(1), label: 'memory %' }),
            ],
            right: [smtpTargets.metrics.healthyHostCount({ period: Duration.minutes(1), statistic: 'Minimum', label: 'healthy tasks' })],
          }),
          new cloudwatch.GraphWidget({
            title: 'Load balancer',
            width: 12,
            left: [
              lb.metrics.newFlowCount({ period: Duration.minutes(1), statistic: 'Sum', label: 'new flows' }),
              lb.metrics.tcpElbResetCount({ period: Duration.minutes(1), statistic: 'Sum', label: 'resets by the NLB' }),
            ],
            right: [lb.metrics.processedBytes({ period: Duration.minutes(1), statistic: 'Sum', label: 'bytes' })],
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: this.alarms })],
      ],
    });
  }
}
