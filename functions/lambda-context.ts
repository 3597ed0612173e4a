/**
 * What every invocation's log lines carry (the habit of Powertools' Logger, in our own JSON
 * lines): the request id Lambda gives the invocation (`awsRequestId`, the id in the REPORT
 * line and in X-Ray) and whether it is the container's first invocation (`coldStart`: its
 * latency includes the module's initialisation, the adapters and the first Secrets Manager
 * reads).
 */
import type { Logger } from '#core/log.ts';

/** The part of the Lambda context object the handlers use. */
export interface LambdaContext {
  awsRequestId: string;
  functionName?: string;
  functionVersion?: string;
  getRemainingTimeInMillis?(): number;
}

/** One per handler module (one per container): the first invocation is the cold start. */
export function invocationLogging(logger: Logger): (context: LambdaContext) => Logger {
  let coldStart = true;
  return (context) => {
    const child = logger.child({
      awsRequestId: context.awsRequestId,
      coldStart,
      ...(context.functionVersion ? { functionVersion: context.functionVersion } : {}),
    });
    coldStart = false;
    return child;
  };
}
