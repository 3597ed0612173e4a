/**
 * The AWS prices the cost benchmark (bench/aws-cost.ts) uses — the one place they are kept.
 *
 * Region us-east-1, on-demand list prices, no free tier, no Savings Plans. Taken from the AWS
 * pricing pages named in `sources` as they stood on `date` (DynamoDB on-demand throughput
 * prices are those after the 50 % cut of 2024-11-01). Check them there before relying on a
 * figure; update `date` when you change one.
 */
export const AWS_PRICES = {
  region: 'us-east-1',
  date: '2026-12-01',
  sources: [
    'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    'https://aws.amazon.com/s3/pricing/',
    'https://aws.amazon.com/sqs/pricing/',
    'https://aws.amazon.com/lambda/pricing/',
    'https://aws.amazon.com/sns/pricing/',
  ],
  dynamodb: {
    /** Standard table class, on-demand. */
    perMillionWriteRequestUnits: 0.625,
    perMillionReadRequestUnits: 0.125,
  },
  s3: {
    /** S3 Standard: PUT, COPY, POST, LIST (and multipart parts). */
    perThousandPutCopyPostList: 0.005,
    /** S3 Standard: GET, SELECT, HEAD and every other request; DELETE is free. */
    perThousandGetAndOther: 0.0004,
  },
  sqs: {
    /** Standard queues, per request (each 64 KiB chunk of a payload is one request). */
    perMillionRequests: 0.4,
  },
  sns: {
    /** Standard topics: Publish (and other API requests), each 64 KiB chunk one request. */
    perMillionRequests: 0.5,
    /** Deliveries from a standard topic to SQS queues are not charged (the queue's requests are, as SQS). */
    perMillionSqsDeliveries: 0,
  },
  lambda: {
    /** arm64 (the stack's functions, infra/pipeline.ts), first pricing tier. */
    perGbSecondArm64: 0.0000133334,
    perMillionRequests: 0.2,
  },
} as const;

/** S3 operations billed at the PUT/COPY/POST/LIST rate; DeleteObject(s) are free; the rest are GET-rate. */
export const S3_PUT_CLASS = new Set([
  'PutObject',
  'CopyObject',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'ListObjectsV2',
  'ListObjects',
  'ListMultipartUploads',
  'ListParts',
  'ListObjectVersions',
]);
export const S3_FREE = new Set(['DeleteObject', 'DeleteObjects', 'AbortMultipartUpload']);
