/**
 * Push between listener tasks (core/adapters/aws/sns-change-feed.ts, docs/deploy.md): the
 * SNS topic writers publish "mailbox changed" to, and the grants around it.
 *
 *  - The topic is encrypted with the AWS-managed SNS key (SNS decrypts before it delivers to
 *    the task queues, which use SSE-SQS) and refuses publishes without TLS.
 *  - Publishers (both functions, the listener tasks): sns:Publish on this topic only.
 *  - The listener task role also manages its own queue: Subscribe, Unsubscribe and
 *    ListSubscriptionsByTopic (the start-up sweep) on the topic; the SQS queue actions on
 *    queues whose name starts with the stack's push prefix (PUSH.queuePrefix, `<slug>_push_`)
 *    only — neither this stack's pipeline queues nor any other stack's (stack names hold no
 *    `_`, so `<stack>-push-eu-ingest` of a stack named `<stack>-push-eu` is not under it). Queues are made at run time (one per task), so the
 *    stack cannot name them.
 */
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, type IConstruct } from 'constructs';
import { PUSH } from '#core/resources.ts';
import { acknowledge } from './nag.ts';

/** What a listener task does with its own queue (sns-change-feed.ts). */
export const PUSH_QUEUE_ACTIONS = [
  'sqs:CreateQueue',
  'sqs:DeleteQueue',
  'sqs:GetQueueAttributes',
  'sqs:GetQueueUrl',
  'sqs:ListQueueTags',
  'sqs:ReceiveMessage',
  'sqs:SetQueueAttributes',
  'sqs:TagQueue',
];
export const PUSH_SUBSCRIBE_ACTIONS = ['sns:ListSubscriptionsByTopic', 'sns:Subscribe', 'sns:Unsubscribe'];

export interface PushProps {
  /** The stack name: the topic and queue names derive from it (core/resources.ts PUSH). */
  prefix: string;
}

export class Push extends Construct {
  readonly topic: sns.Topic;
  readonly queuePrefix: string;

  constructor(scope: Construct, id: string, props: PushProps) {
    super(scope, id);
    this.queuePrefix = PUSH.queuePrefix(props.prefix);
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: PUSH.topicName(props.prefix),
      displayName: 'Mailbox changed (user, mailbox id) for the listener tasks',
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
  }

  /** PUSH_TOPIC_ARN and PUSH_QUEUE_PREFIX for functions and listeners. */
  environment(): Record<string, string> {
    return { [PUSH.env.topicArn]: this.topic.topicArn, [PUSH.env.queuePrefix]: this.queuePrefix };
  }

  grantPublish(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }));
  }

  /** Publish, plus making, reading and removing the task's own queue and subscription. */
  grantListen(grantee: iam.IGrantable & IConstruct): void {
    this.grantPublish(grantee);
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: PUSH_SUBSCRIBE_ACTIONS, resources: [this.topic.topicArn] }));
    const stack = Stack.of(this);
    const queues = stack.formatArn({ service: 'sqs', resource: `${this.queuePrefix}*` });
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: PUSH_QUEUE_ACTIONS, resources: [queues] }));
    const principal = grantee.grantPrincipal instanceof Construct ? grantee.grantPrincipal : grantee;
    acknowledge(
      principal,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:${this.queuePrefix}*]`,
      `Each listener task makes its own push queue at start (named ${this.queuePrefix}<task id>) and deletes it at shutdown; the queue actions are limited to names under that prefix and listed one by one.`,
    );
  }
}
