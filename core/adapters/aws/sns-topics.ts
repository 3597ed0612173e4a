/**
 * The SNS actions the change feed uses (sns-change-feed.ts), on the AWS SDK's SNS client
 * (built by clients.ts with the same configuration as every other client, so it has the same
 * identity, region and endpoint, and the bench's meter counts its requests).
 */
import {
  CreateTopicCommand,
  DeleteTopicCommand,
  ListSubscriptionsByTopicCommand,
  PublishCommand,
  SubscribeCommand,
  UnsubscribeCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';

export interface TopicSubscription {
  subscriptionArn: string;
  protocol: string;
  endpoint: string;
}

/** Per request: a publish must never hold up a delivery for long. */
const TIMEOUT_MS = 5000;

export class SnsTopics {
  private readonly sns: SNSClient;
  constructor(sns: SNSClient) {
    this.sns = sns;
  }

  async createTopic(name: string): Promise<string> {
    const out = await this.sns.send(new CreateTopicCommand({ Name: name }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!out.TopicArn) throw new Error('SNS CreateTopic returned no TopicArn');
    return out.TopicArn;
  }

  async deleteTopic(topicArn: string): Promise<void> {
    await this.sns.send(new DeleteTopicCommand({ TopicArn: topicArn }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
  }

  async publish(topicArn: string, message: string): Promise<void> {
    await this.sns.send(new PublishCommand({ TopicArn: topicArn, Message: message }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
  }

  /** Subscribes an SQS queue with raw message delivery (the body arrives as published); returns the subscription ARN. */
  async subscribeQueue(topicArn: string, queueArn: string): Promise<string> {
    const out = await this.sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: queueArn,
        Attributes: { RawMessageDelivery: 'true' },
        ReturnSubscriptionArn: true,
      }),
      { abortSignal: AbortSignal.timeout(TIMEOUT_MS) },
    );
    if (!out.SubscriptionArn) throw new Error('SNS Subscribe returned no SubscriptionArn');
    return out.SubscriptionArn;
  }

  async unsubscribe(subscriptionArn: string): Promise<void> {
    await this.sns.send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
  }

  async listSubscriptions(topicArn: string): Promise<TopicSubscription[]> {
    const out: TopicSubscription[] = [];
    let next: string | undefined;
    do {
      const page = await this.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: next }), {
        abortSignal: AbortSignal.timeout(TIMEOUT_MS),
      });
      for (const s of page.Subscriptions ?? []) out.push({ subscriptionArn: s.SubscriptionArn ?? '', protocol: s.Protocol ?? '', endpoint: s.Endpoint ?? '' });
      next = page.NextToken || undefined;
    } while (next);
    return out;
  }
}
