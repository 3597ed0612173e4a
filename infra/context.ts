/**
 * Every CDK context key the mail stack reads, in one place: its meaning, its default, and
 * how it is checked. Set them in cdk.json ("context") or per command:
 *
 *   npx cdk deploy -c mail:domains=example.com,example.org -c mail:hostname=mail.example.com \
 *     -c mail:smartHost=email-smtp.eu-west-1.amazonaws.com:587
 *
 * Values given with `-c` arrive as strings; values in cdk.json may be JSON numbers, booleans
 * or arrays. Both are accepted. A bad value stops synthesis with a message naming the key.
 *
 * | key                      | default                          | meaning |
 * | ------------------------ | -------------------------------- | ------- |
 * | mail:domains             | (required)                       | mail domains served, comma-separated (MX targets; DKIM keys per domain) |
 * | mail:hostname            | (required)                       | the server's host name: SMTP greeting, TLS certificate name, MX target |
 * | mail:stackName           | Cloudmail                        | CloudFormation stack name; also the prefix of the table and queue names |
 * | mail:tlsSecretArn        | (a placeholder secret is made)   | Secrets Manager secret `{"cert": PEM chain, "key": PEM key}` |
 * | mail:dkimSecretArn       | (a placeholder secret is made)   | Secrets Manager secret `{"<domain>": <key from mailctl domain dkim --json>}` |
 * | mail:smartHost           | (none: direct MX delivery)       | relay for outbound mail, `host:port` (e.g. SES SMTP on 587: STARTTLS; 465: implicit TLS) |
 * | mail:smartHostSecretArn  | (a placeholder secret is made when mail:smartHost is set) | `{"user": "...", "password": "..."}` |
 * | mail:vpcId               | (a new VPC is made)              | existing VPC to deploy into (looked up at synth: needs credentials once, then cdk.context.json) |
 * | mail:natGateways         | 0                                | NAT gateways of the new VPC (0 = tasks in public subnets, no NAT cost) |
 * | mail:taskSubnets         | public without NAT, else private | subnets of the listener tasks: `public` (public IP, ingress only from the NLB) or `private` |
 * | mail:outboundInVpc       | true when the VPC has NAT        | run the outbound function in the VPC's private subnets, so its traffic leaves through the NAT gateways' Elastic IPs (needed for direct port-25 delivery) |
 * | mail:minTasks            | 1                                | listener tasks, lower autoscaling bound (also the initial count) |
 * | mail:maxTasks            | 4                                | listener tasks, upper autoscaling bound |
 * | mail:taskCpu             | 256                              | Fargate CPU units per task (256, 512, 1024, 2048, 4096) |
 * | mail:taskMemoryMiB       | 512 (256 CPU), else 2 × CPU      | Fargate memory per task (MiB, must suit the CPU) |
 * | mail:connectionsPerTask  | 2000                             | autoscaling target: NLB active connections per running task |
 * | mail:containerInsights   | true                             | ECS Container Insights on the cluster (about 7.50 USD a month; docs/deploy.md) |
 * | mail:deletionProtection  | true                             | deletion protection of the table and the load balancer |
 * | mail:logRetentionDays    | 30                               | retention of every log group the stack makes |
 * | mail:alarmEmail          | (none: alarms without actions)   | e-mail address subscribed to the alarms' SNS topic |
 * | mail:containerImage      | (built from fargate-listeners/Dockerfile at deploy) | a pre-built listener image URI (arm64) instead |
 */

/** A source of context values: `node.tryGetContext`, or a plain object in tests. */
export type ContextSource = (key: string) => unknown;

export type TaskSubnets = 'public' | 'private';

export interface MailContext {
  domains: string[];
  hostname: string;
  stackName: string;
  tlsSecretArn: string | null;
  dkimSecretArn: string | null;
  smartHost: { host: string; port: number } | null;
  smartHostSecretArn: string | null;
  vpcId: string | null;
  natGateways: number;
  taskSubnets: TaskSubnets;
  outboundInVpc: boolean;
  minTasks: number;
  maxTasks: number;
  taskCpu: number;
  taskMemoryMiB: number;
  connectionsPerTask: number;
  containerInsights: boolean;
  deletionProtection: boolean;
  logRetentionDays: number;
  alarmEmail: string | null;
  containerImage: string | null;
}

export const CONTEXT_KEYS = {
  domains: 'mail:domains',
  hostname: 'mail:hostname',
  stackName: 'mail:stackName',
  tlsSecretArn: 'mail:tlsSecretArn',
  dkimSecretArn: 'mail:dkimSecretArn',
  smartHost: 'mail:smartHost',
  smartHostSecretArn: 'mail:smartHostSecretArn',
  vpcId: 'mail:vpcId',
  natGateways: 'mail:natGateways',
  taskSubnets: 'mail:taskSubnets',
  outboundInVpc: 'mail:outboundInVpc',
  minTasks: 'mail:minTasks',
  maxTasks: 'mail:maxTasks',
  taskCpu: 'mail:taskCpu',
  taskMemoryMiB: 'mail:taskMemoryMiB',
  connectionsPerTask: 'mail:connectionsPerTask',
  containerInsights: 'mail:containerInsights',
  deletionProtection: 'mail:deletionProtection',
  logRetentionDays: 'mail:logRetentionDays',
  alarmEmail: 'mail:alarmEmail',
  containerImage: 'mail:containerImage',
} as const satisfies Record<keyof MailContext, string>;

export class ContextError extends Error {
  constructor(key: string, message: string) {
    super(`context ${key}: ${message}`);
    this.name = 'ContextError';
  }
}

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Fargate CPU units and the memory sizes (MiB) each allows. */
const FARGATE_SIZES: Record<number, (mib: number) => boolean> = {
  256: (m) => [512, 1024, 2048].includes(m),
  512: (m) => m >= 1024 && m <= 4096 && m % 1024 === 0,
  1024: (m) => m >= 2048 && m <= 8192 && m % 1024 === 0,
  2048: (m) => m >= 4096 && m <= 16384 && m % 1024 === 0,
  4096: (m) => m >= 8192 && m <= 30720 && m % 1024 === 0,
};

// RFC 1035 §2.3.1 labels (letters, digits, hyphens; no leading/trailing hyphen), at least two labels.
const HOST_NAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const VPC_ID = /^vpc-[0-9a-f]{8,17}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// CloudFormation stack names: a letter, then letters, digits, hyphens (max 128). Kept short so
// the derived table/queue names (`<name>-outbound-dlq`) stay far below the 80-character SQS limit.
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,39}$/;

function str(get: ContextSource, key: string): string | null {
  const v = get(key);
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new ContextError(key, `expected a string, got ${JSON.stringify(v)}`);
  const s = String(v).trim();
  return s === '' ? null : s;
}

function int(get: ContextSource, key: string, fallback: number, min: number, max: number): number {
  const s = str(get, key);
  if (s === null) return fallback;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min || n > max) throw new ContextError(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(s)}`);
  return n;
}

function bool(get: ContextSource, key: string, fallback: boolean): boolean {
  const s = str(get, key);
  if (s === null) return fallback;
  if (/^(true|yes|1|on)$/i.test(s)) return true;
  if (/^(false|no|0|off)$/i.test(s)) return false;
  throw new ContextError(key, `expected true or false, got ${JSON.stringify(s)}`);
}

function matching(get: ContextSource, key: string, pattern: RegExp, what: string): string | null {
  const s = str(get, key);
  if (s !== null && !pattern.test(s)) throw new ContextError(key, `expected ${what}, got ${JSON.stringify(s)}`);
  return s;
}

function domains(get: ContextSource): string[] {
  const key = CONTEXT_KEYS.domains;
  const raw = get(key);
  const list = Array.isArray(raw) ? raw.map(String) : (str(get, key) ?? '').split(',');
  const names = list.map((d) => d.trim().toLowerCase().replace(/\.$/, '')).filter((d) => d !== '');
  if (names.length === 0) throw new ContextError(key, 'at least one mail domain is required (e.g. -c mail:domains=example.com)');
  for (const d of names) if (!HOST_NAME.test(d)) throw new ContextError(key, `${JSON.stringify(d)} is not a domain name`);
  return [...new Set(names)];
}

function smartHost(get: ContextSource): MailContext['smartHost'] {
  const key = CONTEXT_KEYS.smartHost;
  const s = str(get, key);
  if (s === null) return null;
  const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !HOST_NAME.test(m[1].toLowerCase()) || port < 1 || port > 65535)
    throw new ContextError(key, `expected host:port (e.g. email-smtp.eu-west-1.amazonaws.com:587), got ${JSON.stringify(s)}`);
  return { host: m[1].toLowerCase(), port };
}

/** Reads and checks every context key; throws ContextError on the first bad one. */
export function readMailContext(get: ContextSource): MailContext {
  const hostname = matching(get, CONTEXT_KEYS.hostname, HOST_NAME, 'a fully qualified host name (e.g. mail.example.com)');
  if (hostname === null) throw new ContextError(CONTEXT_KEYS.hostname, 'the server host name is required (e.g. -c mail:hostname=mail.example.com)');
  const vpcId = matching(get, CONTEXT_KEYS.vpcId, VPC_ID, 'a VPC id (vpc-...)');
  const natGateways = int(get, CONTEXT_KEYS.natGateways, 0, 0, 3);
  if (vpcId !== null && str(get, CONTEXT_KEYS.natGateways) !== null) {
    throw new ContextError(CONTEXT_KEYS.natGateways, 'applies only to the VPC the stack creates; it cannot be combined with mail:vpcId');
  }
  // Without NAT the only way out to the internet (ECR, S3, SQS, Secrets Manager) is a public IP.
  const taskSubnetsRaw = str(get, CONTEXT_KEYS.taskSubnets);
  if (taskSubnetsRaw !== null && taskSubnetsRaw !== 'public' && taskSubnetsRaw !== 'private')
    throw new ContextError(CONTEXT_KEYS.taskSubnets, `expected public or private, got ${JSON.stringify(taskSubnetsRaw)}`);
  const defaultTaskSubnets: TaskSubnets = vpcId === null && natGateways === 0 ? 'public' : 'private';
  const taskSubnets = (taskSubnetsRaw as TaskSubnets | null) ?? defaultTaskSubnets;
  if (vpcId === null && natGateways === 0 && taskSubnets === 'private') {
    throw new ContextError(CONTEXT_KEYS.taskSubnets, 'private subnets need mail:natGateways of 1 or more (the new VPC has no private subnets without NAT)');
  }
  const outboundInVpc = bool(get, CONTEXT_KEYS.outboundInVpc, vpcId !== null ? false : natGateways > 0);
  if (outboundInVpc && vpcId === null && natGateways === 0) {
    throw new ContextError(CONTEXT_KEYS.outboundInVpc, 'needs mail:natGateways of 1 or more (a function in a VPC reaches the internet only through NAT)');
  }
  const minTasks = int(get, CONTEXT_KEYS.minTasks, 1, 1, 100);
  const maxTasks = int(get, CONTEXT_KEYS.maxTasks, Math.max(4, minTasks), 1, 100);
  if (maxTasks < minTasks) throw new ContextError(CONTEXT_KEYS.maxTasks, `must be at least mail:minTasks (${minTasks}), got ${maxTasks}`);
  const taskCpu = int(get, CONTEXT_KEYS.taskCpu, 256, 256, 4096);
  if (!(taskCpu in FARGATE_SIZES)) throw new ContextError(CONTEXT_KEYS.taskCpu, `expected one of ${Object.keys(FARGATE_SIZES).join(', ')}, got ${taskCpu}`);
  const taskMemoryMiB = int(get, CONTEXT_KEYS.taskMemoryMiB, taskCpu === 256 ? 512 : taskCpu * 2, 512, 30720);
  if (!FARGATE_SIZES[taskCpu](taskMemoryMiB))
    throw new ContextError(CONTEXT_KEYS.taskMemoryMiB, `${taskMemoryMiB} MiB is not a Fargate size for ${taskCpu} CPU units`);
  const logRetentionDays = int(get, CONTEXT_KEYS.logRetentionDays, 30, 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays))
    throw new ContextError(CONTEXT_KEYS.logRetentionDays, `CloudWatch Logs accepts ${LOG_RETENTION_DAYS.join(', ')}; got ${logRetentionDays}`);
  const smart = smartHost(get);
  const smartHostSecretArn = matching(get, CONTEXT_KEYS.smartHostSecretArn, SECRET_ARN, 'a Secrets Manager secret ARN');
  if (smartHostSecretArn !== null && smart === null) throw new ContextError(CONTEXT_KEYS.smartHostSecretArn, 'is set but mail:smartHost is not');
  return {
    domains: domains(get),
    hostname,
    stackName: matching(get, CONTEXT_KEYS.stackName, STACK_NAME, 'a letter followed by up to 39 letters, digits or hyphens') ?? 'Cloudmail',
    tlsSecretArn: matching(get, CONTEXT_KEYS.tlsSecretArn, SECRET_ARN, 'a Secrets Manager secret ARN'),
    dkimSecretArn: matching(get, CONTEXT_KEYS.dkimSecretArn, SECRET_ARN, 'a Secrets Manager secret ARN'),
    smartHost: smart,
    smartHostSecretArn,
    vpcId,
    natGateways,
    taskSubnets,
    outboundInVpc,
    minTasks,
    maxTasks,
    taskCpu,
    taskMemoryMiB,
    connectionsPerTask: int(get, CONTEXT_KEYS.connectionsPerTask, 2000, 10, 100000),
    containerInsights: bool(get, CONTEXT_KEYS.containerInsights, true),
    deletionProtection: bool(get, CONTEXT_KEYS.deletionProtection, true),
    logRetentionDays,
    alarmEmail: matching(get, CONTEXT_KEYS.alarmEmail, EMAIL, 'an e-mail address'),
    containerImage: str(get, CONTEXT_KEYS.containerImage),
  };
}

/** A ContextSource over a plain object (tests, and `-c` overrides merged by the caller). */
export function contextFrom(values: Record<string, unknown>): ContextSource {
  return (key) => values[key];
}
