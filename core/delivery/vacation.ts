/**
 * Vacation auto-replies on delivery (RFC 8621 §8 VacationResponse, honoured by the rules of
 * RFC 3834 "Recommendations for Automatic Responses to Electronic Mail"). Ingest calls
 * sendVacationReplies once its local deliveries are done (core/ingest/ingest-job.ts); the
 * settings are the user's VacationResponse, written by JMAP (fargate-listeners/src/jmap/
 * methods/vacation-response.ts) as an account object (MailIndex.putAccountObject).
 *
 * No reply (RFC 3834 §2, §3.1, and RFC 5230 §4.5–4.6, Sieve vacation, for the usual cases):
 *  - to a message with the null return path (bounces, DSNs, other auto-replies, §3.3) or from
 *    MAILER-DAEMON, LISTSERV, majordomo, owner-*, *-request, *-owner, *-bounces;
 *  - to one with `Auto-Submitted:` other than `no` (§5.2), or from a list: any List-* field
 *    (RFC 2369, RFC 2919) or `Precedence: bulk|list|junk`;
 *  - to one that does not name the user in To: or Cc: (§2: the user may be reached through a
 *    list or an alias the reply would expose), or that the user sent themselves;
 *  - to mail delivered to Junk;
 *  - outside [fromDate, toDate), or while isEnabled is false.
 * One reply per sender per VACATION_PERIOD_DAYS (7, Sieve's default :days; RFC 3834 §2
 * "SHOULD NOT respond more than once" in a period): the first reply takes a lease named for
 * (user, sender, what the reply says) in the index for that long (MailIndex.acquireLease,
 * atomic in both adapters), so a changed message is sent again, as RFC 5230 §4.2's :handle.
 *
 * The reply (§3.1): From: the user, To: the return path, Subject: the one set or
 * `Auto: <subject>`, In-Reply-To:/References: the message's, `Auto-Submitted: auto-replied`,
 * sent with the null envelope sender (§3.3) through the submission path: an ingest job of
 * source 'submission' (queueIngestJob), so a local sender gets it in their INBOX and others
 * through the outbound queue (DKIM-signed for the user's domain). Its queue id comes from the
 * delivering job and recipient, so a redelivered job never sends two replies (its local
 * delivery key and outbound marker are the same).
 *
 * An auto-reply is a courtesy: a failure is logged and never fails the delivery.
 */
import { createHash } from 'node:crypto';
import libmime from 'libmime';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { Adapters } from '../adapters/adapters.ts';
import { normalizeAddress } from '../accounts/addresses.ts';
import type { IngestJob } from '../ingest/ingest-job.ts';
import { queueIngestJob } from '../ingest/queue-ingest.ts';
import type { Logger } from '../log.ts';
import { newBlobKey } from '../mailbox/writes.ts';
import { headerAddresses } from '../mime/header-addresses.ts';
import { fieldValue, parseHeaderFields } from '../mime/header.ts';
import { IndexError, type MailIndex } from '../ports/mail-index.ts';
import { returnPathField } from './return-path.ts';

export const VACATION_KIND = 'VacationResponse';
export const VACATION_ID = 'singleton';
export const VACATION_PERIOD_DAYS = 7;

/** The VacationResponse object of RFC 8621 §8.1, without its id. */
export interface VacationSettings {
  isEnabled: boolean;
  /** UTCDate strings, or null. */
  fromDate: string | null;
  toDate: string | null;
  subject: string | null;
  textBody: string | null;
  htmlBody: string | null;
}

export const VACATION_OFF: VacationSettings = { isEnabled: false, fromDate: null, toDate: null, subject: null, textBody: null, htmlBody: null };

/** The user's settings (off when never set): one read of one item. */
/**
 * Who has a VacationResponse enabled: one account object per such user (kind VACATION_ON_KIND,
 * id the address) under a partition of its own (VACATIONS, not an address), kept by
 * VacationResponse/set (markVacation). Delivery reads the list once per VACATION_LIST_SECONDS
 * per process instead of every recipient's settings on every delivery, so mail to users who are
 * not away costs no read more; a user who turns it on is answered by other processes (the
 * ingest functions) within that time, by this one at once (markVacation forgets the list).
 */
const VACATIONS = '!vacations';
const VACATION_ON_KIND = 'VacationOn';
export const VACATION_LIST_SECONDS = 30;
const lists = new WeakMap<MailIndex, { until: number; users: Promise<Set<string>> }>();

/** Records whether `user`'s vacation response is enabled (VacationResponse/set calls it). */
export async function markVacation(index: MailIndex, user: string, enabled: boolean): Promise<void> {
  lists.delete(index);
  const current = await index.getAccountObject(VACATIONS, VACATION_ON_KIND, user);
  if (enabled && !current) await index.putAccountObject(VACATIONS, VACATION_ON_KIND, user, '1');
  if (!enabled && current) {
    try {
      await index.putAccountObject(VACATIONS, VACATION_ON_KIND, user, null);
    } catch (err) {
      if (!(err instanceof IndexError && err.code === 'NOT_FOUND')) throw err;
    }
  }
  lists.delete(index);
}

function usersOnVacation(index: MailIndex, now: number): Promise<Set<string>> {
  const hit = lists.get(index);
  if (hit && hit.until > now) return hit.users;
  const users = index.listAccountObjects(VACATIONS, VACATION_ON_KIND).then((l) => new Set(l.objects.map((o) => o.id)));
  const entry = { until: now + VACATION_LIST_SECONDS * 1000, users };
  lists.set(index, entry);
  users.catch(() => {
    if (lists.get(index) === entry) lists.delete(index);
  });
  return users;
}

export async function readVacation(index: MailIndex, user: string): Promise<VacationSettings> {
  const o = await index.getAccountObject(user, VACATION_KIND, VACATION_ID);
  if (!o || o.data === null) return { ...VACATION_OFF };
  return { ...VACATION_OFF, ...(JSON.parse(o.data) as Partial<VacationSettings>) };
}

/** Active at `now`: enabled, and now within [fromDate, toDate). */
export function vacationActive(v: VacationSettings, now: number): boolean {
  if (!v.isEnabled) return false;
  if (v.fromDate !== null && now < Date.parse(v.fromDate)) return false;
  if (v.toDate !== null && now >= Date.parse(v.toDate)) return false;
  return true;
}

const LIST_FIELDS = new Set(['list-id', 'list-help', 'list-subscribe', 'list-unsubscribe', 'list-post', 'list-owner', 'list-archive']);
const ROBOT_LOCAL = /^(mailer-daemon|listserv|majordomo|owner-.*|.*-request|.*-owner|.*-bounces?|postmaster|noreply|no-reply)$/i;

/** Why the message must not be answered automatically (for the log), or null when it may be. */
export function noReplyReason(raw: Buffer, returnPath: string, user: string): string | null {
  if (!returnPath) return 'null return path';
  const sender = normalizeAddress(returnPath);
  if (ROBOT_LOCAL.test(sender.split('@')[0] ?? '')) return 'sender is a robot or a list';
  if (sender === user) return 'sent by the user';
  const fields = parseHeaderFields(raw);
  for (const f of fields) {
    if (LIST_FIELDS.has(f.key)) return `list message (${f.name})`;
    const value = fieldValue(raw, f).trim().toLowerCase();
    if (f.key === 'precedence' && /^(bulk|list|junk)\b/.test(value)) return `Precedence: ${value}`;
    if (f.key === 'auto-submitted' && !/^no\b/.test(value)) return `Auto-Submitted: ${value}`;
  }
  const named = ['to', 'cc'].flatMap((h) => headerAddresses(raw, h).addresses).map(normalizeAddress);
  if (!named.includes(user)) return 'the user is not in To: or Cc:';
  return null;
}

function firstValue(raw: Buffer, key: string): string | null {
  const f = parseHeaderFields(raw).find((x) => x.key === key);
  return f ? fieldValue(raw, f).trim() : null;
}

const msgIds = (v: string | null): string[] => (v ? (v.match(/<[^<>\s]+>/g) ?? []) : []);

/** The auto-reply to `raw`, from `user` to `to`. */
export async function composeVacationReply(v: VacationSettings, raw: Buffer, user: string, to: string): Promise<Buffer> {
  const original = firstValue(raw, 'subject');
  const subject = v.subject ?? `Auto: ${original ? libmime.decodeWords(original).replace(/[\r\n]+/g, ' ') : 'your message'}`;
  const messageId = msgIds(firstValue(raw, 'message-id'))[0];
  const references = [...msgIds(firstValue(raw, 'references')), ...(messageId ? [messageId] : [])];
  const text =
    v.textBody ??
    (v.htmlBody !== null
      ? v.htmlBody
          .replace(/<[^>]*>/g, '')
          .replace(/&nbsp;/g, ' ')
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&amp;/g, '&')
      : 'I am away and will read your message when I am back.');
  const node = new MailComposer({
    from: user,
    to,
    subject,
    text,
    ...(v.htmlBody !== null ? { html: v.htmlBody } : {}),
    ...(messageId ? { inReplyTo: messageId } : {}),
    ...(references.length ? { references } : {}),
    headers: { 'Auto-Submitted': 'auto-replied' },
  }).compile();
  return new Promise<Buffer>((resolve, reject) => node.build((err, buf) => (err ? reject(err) : resolve(buf))));
}

export interface VacationDeps {
  adapters: Adapters;
  logger: Logger;
  now?: () => number;
}

/** Auto-replies for the local recipients `delivered` of `job` who are on vacation. Never throws. */
export async function sendVacationReplies(deps: VacationDeps, job: IngestJob, raw: Buffer, delivered: readonly string[]): Promise<void> {
  if (job.verdict?.mailbox === 'Junk' || !job.mailFrom) return;
  for (const user of new Set(delivered)) {
    try {
      await replyFor(deps, job, raw, user);
    } catch (err) {
      deps.logger.error('vacation reply failed', { job: job.id, user, err: err as Error });
    }
  }
}

async function replyFor(deps: VacationDeps, job: IngestJob, raw: Buffer, user: string): Promise<void> {
  const { adapters, logger } = deps;
  if (!(await usersOnVacation(adapters.index, (deps.now ?? Date.now)())).has(user)) return;
  const settings = await readVacation(adapters.index, user);
  if (!vacationActive(settings, (deps.now ?? Date.now)())) return;
  const why = noReplyReason(raw, job.mailFrom, user);
  if (why) {
    logger.info('no vacation reply', { job: job.id, user, why });
    return;
  }
  const sender = normalizeAddress(job.mailFrom);
  const handle = createHash('sha256')
    .update(JSON.stringify([user, sender, settings.subject, settings.textBody, settings.htmlBody]))
    .digest('base64url');
  // Owned by this job: a redelivery of it takes the lease again (and its reply is the same job).
  if (!(await adapters.index.acquireLease(`vacation:${handle}`, job.id, VACATION_PERIOD_DAYS * 24 * 3600))) {
    logger.info('no vacation reply', { job: job.id, user, why: `already answered within ${VACATION_PERIOD_DAYS} days` });
    return;
  }
  const reply = await composeVacationReply(settings, raw, user, job.mailFrom);
  const id = 'V' + createHash('sha256').update(`${job.id}\n${user}`).digest('hex').slice(0, 24).toUpperCase();
  const receivedAt = Date.now();
  const blobKey = newBlobKey(new Date(receivedAt));
  const bytes = Buffer.concat([Buffer.from(returnPathField(''), 'latin1'), reply]);
  const { size } = await adapters.blobs.put(blobKey, bytes);
  await queueIngestJob(
    adapters,
    { id, blobKey, mailFrom: '', rcptTo: [job.mailFrom], receivedAt, source: 'submission', authUser: user, size, held: true },
    logger,
    bytes,
  );
  logger.info('vacation reply queued', { job: job.id, user, to: job.mailFrom, reply: id });
}
