/** Adapters for a Lambda container, made once per cold start from the stack's environment. */
import type { Adapters } from '#core/adapters/adapters.ts';
import { createAwsAdapters } from '#core/adapters/aws/index.ts';
import { awsResourceRefsFromEnv } from '#core/adapters/aws/provision.ts';

let adapters: Promise<Adapters> | undefined;

export function awsAdapters(): Promise<Adapters> {
  adapters ??= createAwsAdapters({ refs: awsResourceRefsFromEnv(process.env) });
  return adapters;
}
