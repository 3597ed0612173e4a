/**
 * SDK client construction shared by the aws adapters and provisioning. One config object
 * (endpoint, region, credentials, forcePathStyle) is passed to every client. Without one the
 * SDK's defaults apply (real AWS, credentials from the environment/role). AWS_ENDPOINT_URL
 * (an emulator such as LocalStack or moto) is honoured: it becomes the endpoint unless one is
 * given, and S3 then uses path-style addressing (emulators rarely resolve bucket subdomains).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';

export interface AwsClientConfig {
  endpoint?: string;
  region?: string;
  credentials?: S3ClientConfig['credentials'];
  forcePathStyle?: boolean;
  maxAttempts?: number;
}

export interface AwsClients {
  s3: S3Client;
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  sns: SNSClient;
  secrets: SecretsManagerClient;
  destroy(): void;
}

function resolved(config: AwsClientConfig | undefined, env: NodeJS.ProcessEnv): AwsClientConfig {
  const out: AwsClientConfig = { ...(config ?? {}) };
  if (!out.endpoint && env.AWS_ENDPOINT_URL) out.endpoint = env.AWS_ENDPOINT_URL;
  if (out.endpoint && out.forcePathStyle === undefined) out.forcePathStyle = true;
  return out;
}

export type AwsService = 's3' | 'dynamodb' | 'sqs' | 'sns';

/**
 * Called with every client built here, e.g. to add a middleware that counts requests
 * (bench/aws-meter.ts). Process-wide, so it also reaches the clients the Lambda handlers build
 * for themselves (functions/aws-context.ts). Unset by default.
 */
export type AwsClientHook = (service: AwsService, client: S3Client | DynamoDBClient | SQSClient | SNSClient) => void;
let clientHook: AwsClientHook | undefined;

export function setAwsClientHook(hook: AwsClientHook | undefined): void {
  clientHook = hook;
}

export function createAwsClients(config?: AwsClientConfig, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const c = resolved(config, env);
  const { forcePathStyle, ...common } = c;
  const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const s3 = new S3Client(strip<S3ClientConfig>({ ...common, forcePathStyle }));
  const dynamo = new DynamoDBClient(strip<DynamoDBClientConfig>({ ...common }));
  const sqs = new SQSClient(strip<SQSClientConfig>({ ...common }));
  const sns = new SNSClient(strip<SNSClientConfig>({ ...common }));
  const secrets = new SecretsManagerClient(strip<SecretsManagerClientConfig>({ ...common }));
  if (clientHook) {
    clientHook('s3', s3);
    clientHook('dynamodb', dynamo);
    clientHook('sqs', sqs);
    clientHook('sns', sns);
  }
  return {
    s3,
    dynamo,
    sqs,
    sns,
    secrets,
    destroy() {
      s3.destroy();
      dynamo.destroy();
      sqs.destroy();
      sns.destroy();
      secrets.destroy();
    },
  };
}
