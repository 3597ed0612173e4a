/**
 * The few SNS actions the change feed uses (sns-change-feed.ts), over SNS's Query API: a
 * form-encoded POST signed with Signature Version 4 (node:crypto), the XML answer read for
 * the one or two fields wanted. The project does not depend on @aws-sdk/client-sns; this
 * covers Publish, Subscribe, Unsubscribe, ListSubscriptionsByTopic, CreateTopic and
 * DeleteTopic, nothing more. Credentials and region come from an SDK client of the same
 * configuration (its default provider chain: the task role on Fargate, the function role in
 * Lambda, the environment elsewhere), so every service uses the same identity.
 *
 * Reference: https://docs.aws.amazon.com/sns/latest/api/CommonParameters.html and
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
import { createHash, createHmac } from 'node:crypto';

export interface SnsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SnsQueryClientOptions {
  region: () => Promise<string>;
  credentials: () => Promise<SnsCredentials>;
  /** An emulator's endpoint; default https://sns.<region>.amazonaws.com. */
  endpoint?: string;
  /** Per request; default 5 s. */
  timeoutMs?: number;
}

export class SnsError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(`${code}: ${message}`);
    this.name = 'SnsError';
    this.code = code;
    this.status = status;
  }
}

const VERSION = '2010-03-31';

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding, as SigV4 and the Query API want it. */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' };
    if (named[e.toLowerCase()]) return named[e.toLowerCase()];
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

/** The text of every `<tag>…</tag>` in `xml`, in order. */
function elements(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]);
}

function element(xml: string, tag: string): string | undefined {
  const v = elements(xml, tag)[0];
  return v === undefined ? undefined : unescapeXml(v);
}

export interface TopicSubscription {
  subscriptionArn: string;
  protocol: string;
  endpoint: string;
}

export class SnsQueryClient {
  private readonly options: SnsQueryClientOptions;

  constructor(options: SnsQueryClientOptions) {
    this.options = options;
  }

  async createTopic(name: string): Promise<string> {
    const xml = await this.call('CreateTopic', { Name: name });
    const arn = element(xml, 'TopicArn');
    if (!arn) throw new SnsError('BadResponse', 'CreateTopic returned no TopicArn', 200);
    return arn;
  }

  async deleteTopic(topicArn: string): Promise<void> {
    await this.call('DeleteTopic', { TopicArn: topicArn });
  }

  async publish(topicArn: string, message: string): Promise<void> {
    await this.call('Publish', { TopicArn: topicArn, Message: message });
  }

  /** Subscribes an SQS queue with raw message delivery (the body arrives as published); returns the subscription ARN. */
  async subscribeQueue(topicArn: string, queueArn: string): Promise<string> {
    const xml = await this.call('Subscribe', {
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: queueArn,
      'Attributes.entry.1.key': 'RawMessageDelivery',
      'Attributes.entry.1.value': 'true',
      ReturnSubscriptionArn: 'true',
    });
    const arn = element(xml, 'SubscriptionArn');
    if (!arn) throw new SnsError('BadResponse', 'Subscribe returned no SubscriptionArn', 200);
    return arn;
  }

  async unsubscribe(subscriptionArn: string): Promise<void> {
    await this.call('Unsubscribe', { SubscriptionArn: subscriptionArn });
  }

  async listSubscriptions(topicArn: string): Promise<TopicSubscription[]> {
    const out: TopicSubscription[] = [];
    let next: string | undefined;
    do {
      const xml = await this.call('ListSubscriptionsByTopic', next ? { TopicArn: topicArn, NextToken: next } : { TopicArn: topicArn });
      for (const m of elements(xml, 'member')) {
        out.push({ subscriptionArn: element(m, 'SubscriptionArn') ?? '', protocol: element(m, 'Protocol') ?? '', endpoint: element(m, 'Endpoint') ?? '' });
      }
      next = element(xml, 'NextToken') || undefined;
    } while (next);
    return out;
  }

  private async call(action: string, params: Record<string, string>): Promise<string> {
    const region = await this.options.region();
    const creds = await this.options.credentials();
    const url = new URL(this.options.endpoint ?? `https://sns.${region}.amazonaws.com/`);
    const body = Object.entries({ Action: action, Version: VERSION, ...params })
      .map(([k, v]) => `${encode(k)}=${encode(v)}`)
      .join('&');
    const now = new Date();
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      host: url.host,
      'x-amz-date': amzDate,
    };
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
    const names = Object.keys(headers).sort();
    const canonical = ['POST', url.pathname || '/', '', ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), sha256Hex(body)].join('\n');
    const scope = `${day}/${region}/sns/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), 'sns'), 'aws4_request');
    const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
    delete headers.host; // fetch sets it (to the same value)
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
    const text = await res.text();
    if (!res.ok) throw new SnsError(element(text, 'Code') ?? `HTTP${res.status}`, element(text, 'Message') ?? text.slice(0, 200), res.status);
    return text;
  }
}
