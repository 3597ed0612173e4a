/**
 * Builds the CDK app: reads the context (infra/context.ts), creates the mail stack and applies
 * cdk-nag's AwsSolutions checks. Used by infra/app.ts (`cdk synth`/`cdk deploy`) and the tests.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readMailContext, type MailContext } from './context.ts';
import { MailStack } from './mail-stack.ts';

export interface MailAppOptions {
  /** Context values (tests); the CDK CLI passes cdk.json and `-c` values itself. */
  context?: Record<string, unknown>;
  outdir?: string;
  /** Register cdk-nag as a validation plugin (default true): findings fail the synthesis. */
  nag?: boolean;
}

export interface MailApp {
  app: App;
  stack: MailStack;
  context: MailContext;
}

export function createMailApp(options: MailAppOptions = {}): MailApp {
  const app = new App({ outdir: options.outdir, context: options.context });
  const context = readMailContext((key) => app.node.tryGetContext(key));
  // Environment-agnostic unless an existing VPC must be looked up (that needs the account and
  // region of the credentials in use; the result is cached in cdk.context.json).
  const env = context.vpcId !== null ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined;
  const stack = new MailStack(app, context.stackName, {
    context,
    env,
    description: `Mail system for ${context.domains.join(', ')} (${context.hostname}): SMTP, IMAP, POP3 on Fargate behind an NLB; SQS, Lambda, S3, DynamoDB`,
  });
  if (options.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, context };
}
