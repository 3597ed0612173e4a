/**
 * Job bodies checked at the edge, against their types, before a job function sees them. A
 * queue message comes from our own code, but one written by an older or newer version of it,
 * by an operator's redrive or by hand is possible: a body that is not the job it claims to be
 * is refused with a JobBodyError naming the field (never its value: addresses are personal
 * data), and its record fails on its own (functions/sqs-batch.ts).
 */
import type { IngestJob } from '#core/ingest/ingest-job.ts';
import type { OutboundJob, OutboundRecipientError } from '#core/outbound/job.ts';

export class JobBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobBodyError';
  }
}

type Check = (value: unknown) => string | null;

const string: Check = (v) => (typeof v === 'string' ? null : 'must be a string');
const nonEmptyString: Check = (v) => (typeof v === 'string' && v.length > 0 ? null : 'must be a non-empty string');
const boolean: Check = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const count: Check = (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? null : 'must be a whole number ≥ 0');
const time: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'must be a time in epoch milliseconds');
const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    typeof v === 'string' && allowed.includes(v) ? null : `must be one of ${allowed.join(', ')}`;
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? null : check(v);
const strings =
  (min: number): Check =>
  (v) => {
    if (!Array.isArray(v)) return 'must be a list of strings';
    if (v.length < min) return `must have at least ${min} entr${min === 1 ? 'y' : 'ies'}`;
    const bad = v.findIndex((x) => typeof x !== 'string' || x.length === 0);
    return bad < 0 ? null : `[${bad}] must be a non-empty string`;
  };
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkShape<T>(kind: string, value: unknown, shape: Record<string, Check>): T {
  if (!isObject(value)) throw new JobBodyError(`${kind} job body must be a JSON object`);
  for (const [field, check] of Object.entries(shape)) {
    const problem = check(value[field]);
    if (problem) throw new JobBodyError(`${kind} job body: ${field}${problem.startsWith('[') ? '' : ' '}${problem}`);
  }
  return value as T;
}

export function ingestJobBody(value: unknown): IngestJob {
  return checkShape<IngestJob>('ingest', value, {
    id: nonEmptyString,
    blobKey: nonEmptyString,
    mailFrom: string,
    rcptTo: strings(1),
    receivedAt: time,
    source: oneOf('mx', 'submission'),
    authUser: optional(string),
    clientAddress: optional(string),
    heloName: optional(string),
    size: count,
    verdict: optional(verdict),
    bytes: optional(string),
    held: optional(boolean),
  });
}

const verdict: Check = (v) => {
  if (!isObject(v) || (v.mailbox !== 'INBOX' && v.mailbox !== 'Junk')) return 'must be {mailbox: INBOX|Junk, reasons?}';
  if (v.reasons !== undefined && !(Array.isArray(v.reasons) && v.reasons.every((r) => typeof r === 'string'))) return 'reasons must be a list of strings';
  return null;
};

const recipientErrors: Check = (v) => {
  if (!isObject(v)) return 'must be an object of recipient → error';
  for (const e of Object.values(v)) {
    const err = e as Partial<OutboundRecipientError> | null;
    if (
      !isObject(err) ||
      typeof err.status !== 'string' ||
      typeof err.diagnostic !== 'string' ||
      typeof err.smtp !== 'boolean' ||
      (err.remoteMta !== undefined && typeof err.remoteMta !== 'string')
    ) {
      return 'must map each recipient to {status, diagnostic, smtp, remoteMta?}';
    }
  }
  return null;
};

export function outboundJobBody(value: unknown): OutboundJob {
  return checkShape<OutboundJob>('outbound', value, {
    id: nonEmptyString,
    queueId: nonEmptyString,
    blobKey: nonEmptyString,
    mailFrom: string,
    domain: nonEmptyString,
    rcptTo: strings(1),
    createdAt: time,
    attempts: count,
    notBefore: optional(time),
    smtputf8: boolean,
    eightBit: boolean,
    size: count,
    lastErrors: optional(recipientErrors),
  });
}
