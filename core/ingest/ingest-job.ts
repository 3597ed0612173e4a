/**
 * The ingest job: one accepted SMTP transaction (or submission), whose raw bytes are already
 * in the blob store. Runs in the `ingest` Lambda (functions/ingest.ts) and in the local
 * worker loop (core/worker.ts). At-least-once: redelivery must never duplicate (invariant 2),
 * which the per-recipient delivery key guarantees.
 *
 * Blob lifetime (invariants 1 and 5): a job of several recipients is queued with a hold on its
 * blob (`index.holdBlob(blobKey, job.id)`, see fargate-listeners/src/smtp/accept-message.ts).
 * The hold is a reference of its own, so the blob outlives expunges of the copies this job
 * already delivered (alice's copy deleted by POP3 while bob's delivery waits for a retry).
 * Deliveries add a reference each, except the last one of a job whose recipients are all
 * local, which takes the hold over (NewMessage.blobReference: one write fewer, no release). A run whose last delivery was a
 * duplicate (an earlier run may or may not have taken the hold over) or that delivered nothing
 * releases the hold, and deletes the blob when that release dropped the last reference
 * (MailboxWrites.releaseHold, core/mailbox/writes.ts).
 * A job of one recipient holds nothing (`held: false`): its delivery is the blob's sole
 * reference; when nothing was delivered (remote or unknown recipient) the job deletes the blob.
 * Its blob can only go before the job finishes when its one copy was delivered and expunged,
 * and then there is nothing left to do (the BlobNotFoundError case below).
 */
import type { Adapters } from '../adapters/adapters.ts';
import { domainOf, normalizeAddress } from '../accounts/addresses.ts';
import { DirectoryCache } from '../accounts/directory-cache.ts';
import { quotaExceeded } from '../mailbox/quota.ts';
import { MailboxWrites } from '../mailbox/writes.ts';
import type { Logger } from '../log.ts';
import type { MailboxEvents } from '../mailbox/events.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import { indexMessage } from '../mime/index-message.ts';
import { sendVacationReplies } from '../delivery/vacation.ts';
import { collectRecipients } from '../contacts/collected.ts';
import { DEFAULT_JUNK_THRESHOLD, junkScore } from '../junk/delivery-verdict.ts';

export interface IngestJob {
  /** Stable id of the transaction (also the SMTP queue id given in the 250 reply). */
  id: string;
  blobKey: string;
  /** Envelope sender; '' for the null reverse-path. */
  mailFrom: string;
  rcptTo: string[];
  /** Epoch ms when the 250 was given: becomes the INTERNALDATE. */
  receivedAt: number;
  /** How the message came: 'mx' (port 25) or 'submission' (authenticated). */
  source: 'mx' | 'submission';
  /** Authenticated user for submissions. */
  authUser?: string;
  clientAddress?: string;
  heloName?: string;
  size: number;
  /**
   * Whether the accept path took a hold on the blob for this job (index.holdBlob(blobKey, id)).
   * false: a job of one recipient, which holds nothing — its one delivery becomes the blob's
   * sole reference. Absent (jobs queued before this field existed): held.
   */
  held?: boolean;
  /** The MX listener's inbound verdict (fargate-listeners/src/smtp/trust/): where local recipients get it. Absent: INBOX. */
  verdict?: InboundVerdict;
  /**
   * The message's bytes in base64, a copy of the blob, when the queue carries a message this
   * small inline (core/ingest/queue-ingest.ts). Used on the job's first receive only.
   */
  bytes?: string;
}

export interface InboundVerdict {
  /** INBOX, or Junk (DMARC quarantine; reject with DMARC_REJECT_ACTION=junk). */
  mailbox: 'INBOX' | 'Junk';
  /** Why it is not INBOX (or why a failure was overridden), for the log. */
  reasons?: string[];
  /** The junk score the listener gave for the job's one recipient (core/junk/spam-fields.ts), already in `mailbox`: not scored again. */
  junkScore?: { recipient: string; score: number };
}

export interface RemoteRecipients {
  job: IngestJob;
  /** Recipients whose domain is not local, grouped by domain. */
  byDomain: Map<string, string[]>;
  raw: Buffer;
}

export interface IngestDeps {
  adapters: Adapters;
  logger: Logger;
  events?: MailboxEvents;
  /**
   * Handles recipients of non-local domains (outbound delivery, core/outbound/route.ts). Must be idempotent per
   * job id. When absent, remote recipients are an error (the MX listener never accepts them).
   */
  routeRemote?: (remote: RemoteRecipients) => Promise<void>;
  /**
   * Local-domain recipients with no such user (possible for submissions, whose RCPT check is
   * looser): report them so a bounce can be made. Default: log and drop.
   */
  onUnknownLocal?: (job: IngestJob, recipients: string[], raw: Buffer) => Promise<void>;
  /** Domains and users cached for the process (directoryFor(index, config.directoryCacheSeconds)); default: read every time. */
  directory?: DirectoryCache;
  /** Junk score from which MX mail goes to Junk (config.inbound.junkThreshold); default DEFAULT_JUNK_THRESHOLD. */
  junkThreshold?: number;
  /**
   * This is the job's first receive (an SQS receive count of 1): its inline bytes (IngestJob.bytes)
   * may stand in for the blob. Nothing has delivered or released anything yet, so the blob is
   * certainly there. On a redelivery the blob is read, since its absence is what tells a job
   * that completed before (below).
   */
  firstReceive?: boolean;
}

export interface IngestResult {
  delivered: Array<{ recipient: string; uid: number; duplicate: boolean }>;
  remote: number;
  unknown: string[];
}

export async function runIngestJob(job: IngestJob, deps: IngestDeps): Promise<IngestResult> {
  const { adapters, logger } = deps;
  const writes = new MailboxWrites(adapters, { events: deps.events, log: logger });
  let raw: Buffer;
  const inline = deps.firstReceive && typeof job.bytes === 'string' ? Buffer.from(job.bytes, 'base64') : null;
  try {
    raw = inline && inline.length === job.size ? inline : await adapters.blobs.get(job.blobKey);
  } catch (err) {
    // This job's hold keeps the blob alive until the end of a run that completed every
    // recipient (below): no expunge can orphan it before that. So a missing blob means that a
    // previous run of this job completed and released the hold, and the queue delivered the
    // job again (at-least-once): there is nothing left to do.
    if (err instanceof BlobNotFoundError) {
      logger.warn('ingest blob gone: job already completed', { job: job.id, blobKey: job.blobKey });
      return { delivered: [], remote: 0, unknown: [] };
    }
    throw err;
  }
  const meta = indexMessage(raw);
  const result: IngestResult = { delivered: [], remote: 0, unknown: [] };
  const byDomain = new Map<string, string[]>();
  const directory = deps.directory ?? new DirectoryCache(adapters.index, { ttlSeconds: 0 });
  const localDomains = new Map<string, boolean>();
  const isLocalDomain = async (d: string) => {
    if (!localDomains.has(d)) localDomains.set(d, (await directory.domain(d)) !== null);
    return localDomains.get(d)!;
  };

  const local: string[] = [];
  for (const original of job.rcptTo) {
    const rcpt = normalizeAddress(original);
    const domain = domainOf(rcpt);
    if (!(await isLocalDomain(domain))) {
      const list = byDomain.get(domain) ?? [];
      list.push(original);
      byDomain.set(domain, list);
      continue;
    }
    if (!(await directory.user(rcpt))) {
      result.unknown.push(original);
      continue;
    }
    local.push(rcpt);
  }
  const held = job.held !== false;
  // Remote routing and bounces come after the deliveries and need the bytes on a retry: with
  // any of them the hold stays until the end.
  const onlyLocal = byDomain.size === 0 && result.unknown.length === 0;
  let holdTakenOver = false;
  // Over quota now (RFC 9208; SMTP said yes at RCPT, or the mailbox filled since): not
  // delivered this run, and the job fails at the end so the queue retries it later (the user
  // may make room). Everything else is done first; on the retry those deliveries are duplicates.
  const overQuota: string[] = [];
  const deliverable: string[] = [];
  for (const rcpt of local) {
    if (await quotaExceeded(adapters.index, rcpt, { storage: raw.length, messages: 1 }, await directory.user(rcpt))) overQuota.push(rcpt);
    else deliverable.push(rcpt);
  }
  const deferring = overQuota.length > 0;
  for (const [i, rcpt] of deliverable.entries()) {
    // A deferred job keeps its hold for the retry: no delivery takes it over.
    const last = i === deliverable.length - 1 && onlyLocal && !deferring;
    // The last delivery takes the job's hold over; the one delivery of an unheld job is the sole reference.
    const blobReference = last && held ? { takeOver: job.id } : last && !held && local.length === 1 ? ('sole' as const) : undefined;
    // MX mail is scored by each recipient's own junk model (core/junk/delivery-verdict.ts).
    const scored = job.verdict?.junkScore && normalizeAddress(job.verdict.junkScore.recipient) === rcpt;
    const junk = job.source === 'mx' && !scored ? await junkScore(adapters.blobs, rcpt, raw, meta, deps.junkThreshold ?? DEFAULT_JUNK_THRESHOLD) : null;
    const mailbox = await targetMailbox(adapters, rcpt, job.verdict?.mailbox === 'Junk' || junk?.junk === true ? 'Junk' : 'INBOX', job, logger);
    const appended = await writes.append(rcpt, mailbox, raw, {
      blobKey: job.blobKey,
      meta,
      internalDate: job.receivedAt,
      deliveryKey: `${job.id}:${rcpt}`,
      blobReference,
    });
    if (last && held && !appended.duplicate) holdTakenOver = true;
    result.delivered.push({ recipient: rcpt, uid: appended.uid, duplicate: appended.duplicate });
    logger.info('delivered', {
      job: job.id,
      recipient: rcpt,
      mailbox,
      uid: appended.uid,
      duplicate: appended.duplicate,
      ...(junk ? { junkScore: junk.score } : {}),
    });
  }

  // RFC 3834 auto-replies of recipients on vacation (core/delivery/vacation.ts); never fails the job.
  await sendVacationReplies({ adapters, logger }, job, raw, local);
  // Recipients of a submission join the sender's Collected address book (core/contacts/collected.ts); never fails the job.
  await collectRecipients({ adapters, logger, events: deps.events }, job, raw);

  if (byDomain.size > 0) {
    if (!deps.routeRemote) throw new Error(`job ${job.id} has non-local recipients and no outbound route is configured`);
    await deps.routeRemote({ job, byDomain, raw });
    result.remote = [...byDomain.values()].reduce((n, l) => n + l.length, 0);
  }
  if (result.unknown.length > 0) {
    if (deps.onUnknownLocal) await deps.onUnknownLocal(job, result.unknown, raw);
    else logger.warn('unknown local recipients dropped', { job: job.id, recipients: result.unknown });
  }
  if (deferring) {
    logger.warn('over quota: delivery deferred', { job: job.id, recipients: overQuota });
    throw new QuotaDeferral(job.id, overQuota);
  }
  // Every recipient is done: drop the job's own reference unless the last delivery took it
  // over. The mailboxes that got the message hold theirs (remote recipients have their own
  // outbound copies, DSNs are built); when no reference is left (nobody got it, or every copy
  // was expunged already) the blob goes now (invariant 5). A redelivery of a job whose hold is
  // already gone releases nothing.
  if (held && !holdTakenOver) await writes.releaseHold(job.blobKey, job.id);
  if (!held && result.delivered.length === 0) {
    // An unheld job is an MX message for one recipient that was a local user at RCPT time. That
    // it reached nobody now (the user is gone, or a stale directory cache calls the address
    // unknown or remote) does not prove that no earlier run of this job delivered it: that
    // delivery's message would be the blob's sole reference. So the bytes are kept (a rare
    // leak) rather than deleted under a message that may hold them (invariant 5).
    logger.warn('unheld job delivered nothing; its blob is kept', { job: job.id, key: job.blobKey });
  }
  return result;
}

/**
 * The job could not be delivered to these local recipients because they are over quota: the
 * run fails so that the queue retries it (a job that keeps failing ends among the dead letters,
 * its blob held: kept, never lost).
 */
export class QuotaDeferral extends Error {
  readonly recipients: string[];
  constructor(jobId: string, recipients: string[]) {
    super(`job ${jobId}: recipients over quota, retry later: ${recipients.join(', ')}`);
    this.name = 'QuotaDeferral';
    this.recipients = recipients;
  }
}

/**
 * The mailbox a local recipient gets the message in: INBOX, or for a Junk verdict (the listener's, or the junk score's) the user's
 * mailbox with the \\Junk special use (RFC 6154; "Junk" at creation, possibly renamed since).
 * A user who deleted it gets the message in INBOX rather than not at all.
 */
async function targetMailbox(adapters: Adapters, user: string, wanted: 'INBOX' | 'Junk', job: IngestJob, logger: Logger): Promise<string> {
  if (wanted !== 'Junk') return 'INBOX';
  const named = await adapters.index.getMailbox(user, 'Junk');
  if (named?.specialUse === '\\Junk') return named.name;
  const special = (await adapters.index.listMailboxes(user)).find((m) => m.specialUse === '\\Junk');
  if (special) return special.name;
  if (named) return named.name;
  logger.warn('junk verdict but no Junk mailbox: delivered to INBOX', { job: job.id, recipient: user });
  return 'INBOX';
}
