/**
 * The account as JMAP sees it, read from the mail index: mailboxes with their JMAP names and
 * parents, and the Emails (one per blob key, in every mailbox that holds a copy; ids.ts).
 *
 * Keywords (RFC 8621 §4.1.1): IMAP system flags map to `$seen`, `$flagged`, `$answered`,
 * `$draft`; other IMAP keywords are the keyword, lower-cased (JMAP keywords are
 * case-insensitive and returned lower-case). `\Deleted` and `\Recent` have no keyword; a
 * message marked `\Deleted` (waiting for EXPUNGE) is still shown, and keeps that flag when
 * JMAP changes the others. When the copies of one Email disagree, the Email has the union of
 * their keywords; a JMAP change sets every copy.
 */
import type { Mailbox, MailIndex, MessageRecord } from '#core/ports/mail-index.ts';
import { SEPARATOR } from '../imap/session/mailbox-names.ts';
import { MAX_CACHED_MESSAGES, accountCacheOf } from './account-cache.ts';
import { emailIdOf, threadIdOf } from './ids.ts';

const SYSTEM_TO_KEYWORD: Record<string, string> = { '\\seen': '$seen', '\\flagged': '$flagged', '\\answered': '$answered', '\\draft': '$draft' };
const KEYWORD_TO_SYSTEM: Record<string, string> = { $seen: '\\Seen', $flagged: '\\Flagged', $answered: '\\Answered', $draft: '\\Draft' };
/** IMAP flags JMAP does not show and must not drop. */
const KEPT_FLAGS = new Set(['\\deleted']);

export function keywordsOfFlags(flags: readonly string[]): Record<string, true> {
  const out: Record<string, true> = {};
  for (const f of flags) {
    const lower = f.toLowerCase();
    if (lower.startsWith('\\')) {
      const k = SYSTEM_TO_KEYWORD[lower];
      if (k) out[k] = true;
    } else out[lower] = true;
  }
  return out;
}

/** The IMAP flags for a keyword set, keeping the flags JMAP does not show and the spelling of keywords already there. */
export function flagsOfKeywords(keywords: readonly string[], current: readonly string[]): string[] {
  const spelling = new Map(current.map((f) => [f.toLowerCase(), f]));
  const out = current.filter((f) => KEPT_FLAGS.has(f.toLowerCase()));
  for (const k of keywords) {
    const lower = k.toLowerCase();
    out.push(KEYWORD_TO_SYSTEM[lower] ?? spelling.get(lower) ?? lower);
  }
  return out;
}

/** RFC 8621 §4.1.1: `keyword` characters (IMAP atom characters minus a few), 1–255 long. */
export function isValidKeyword(k: string): boolean {
  return /^[\x21-\x7e]{1,255}$/.test(k) && !/[(){\]%*"\\]/.test(k);
}

export interface MailboxView {
  mailbox: Mailbox;
  /** The JMAP name: the last hierarchy level, or the rest of the path below the nearest existing ancestor. */
  name: string;
  parentId: string | null;
}

export function mailboxViews(mailboxes: readonly Mailbox[]): MailboxView[] {
  const byName = new Map(mailboxes.map((m) => [m.name, m]));
  return mailboxes.map((mailbox) => {
    const parts = mailbox.name.split(SEPARATOR);
    for (let i = parts.length - 1; i > 0; i--) {
      const parent = byName.get(parts.slice(0, i).join(SEPARATOR));
      if (parent) return { mailbox, name: parts.slice(i).join(SEPARATOR), parentId: parent.id };
    }
    return { mailbox, name: mailbox.name, parentId: null };
  });
}

export interface EmailCopy {
  mailboxId: string;
  uid: number;
  flags: string[];
  modseq: number;
}

export interface EmailView {
  id: string;
  /**
   * The JMAP thread id (ids.ts threadIdOf). The copies of one Email carry the same stored id
   * (COPY keeps it; one message appended twice finds its own Message-ID or blob); should one
   * copy have none (stored before threads), the derived id wins, so an id never changes.
   */
  threadId: string;
  blobKey: string;
  size: number;
  internalDate: number;
  copies: EmailCopy[];
  /** Of the first copy read, when listed with meta. */
  record: MessageRecord;
}

export function emailKeywords(email: EmailView): Record<string, true> {
  const out: Record<string, true> = {};
  for (const c of email.copies) Object.assign(out, keywordsOfFlags(c.flags));
  return out;
}

export interface AccountView {
  mailboxes: Mailbox[];
  emails: Map<string, EmailView>;
}

/** The account's threads: thread id → its Emails, sorted by receivedAt then id (RFC 8621 §3.1). */
export function threadsOf(emails: Map<string, EmailView>): Map<string, EmailView[]> {
  const out = new Map<string, EmailView[]>();
  for (const e of emails.values()) {
    const list = out.get(e.threadId);
    if (list) list.push(e);
    else out.set(e.threadId, [e]);
  }
  for (const list of out.values()) if (list.length > 1) list.sort((a, b) => a.internalDate - b.internalDate || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

/**
 * The account's messages (meta when asked) grouped into Emails. Without meta they come from
 * the process's AccountCache (account-cache.ts): one listing of the mailbox list, then only
 * what the change log says changed since the last read; with meta, from a full listing.
 */
export async function loadEmails(index: MailIndex, user: string, options: { withMeta?: boolean; mailboxes?: Mailbox[] } = {}): Promise<AccountView> {
  const mailboxes = options.mailboxes ?? (await index.listMailboxes(user));
  if (options.withMeta) {
    const lists = await Promise.all(mailboxes.map((m) => index.listMessages(user, m.id, { withMeta: true })));
    return { mailboxes, emails: groupEmails(mailboxes, lists) };
  }
  const cache = accountCacheOf(index);
  const { lists, version } = await cache.records(user, mailboxes, { complete: !options.mailboxes });
  // Nothing changed since the last read of the same mailboxes: the Emails built then.
  const key = mailboxes.map((m) => m.id).join(',');
  let emails = cache.memo<Map<string, EmailView>>(user, version, key);
  if (!emails) {
    emails = groupEmails(
      mailboxes,
      mailboxes.map((m) => lists.get(m.id) ?? []),
    );
    cache.setMemo(user, version, key, emails);
  }
  return { mailboxes, emails };
}

/** Email ids by blob key: a SHA-256 each, computed once per blob in this process (bounded). */
const emailIds = new Map<string, string>();
const EMAIL_ID_MEMO_MAX = MAX_CACHED_MESSAGES;

function memoEmailId(blobKey: string): string {
  let id = emailIds.get(blobKey);
  if (id === undefined) {
    if (emailIds.size >= EMAIL_ID_MEMO_MAX) emailIds.clear();
    id = emailIdOf(blobKey);
    emailIds.set(blobKey, id);
  }
  return id;
}

function groupEmails(mailboxes: readonly Mailbox[], lists: MessageRecord[][]): Map<string, EmailView> {
  const emails = new Map<string, EmailView>();
  mailboxes.forEach((m, i) => {
    for (const r of lists[i]) {
      const id = memoEmailId(r.blobKey);
      let e = emails.get(id);
      if (!e) {
        e = { id, threadId: threadIdOf(r, id), blobKey: r.blobKey, size: r.size, internalDate: r.internalDate, copies: [], record: r };
        emails.set(id, e);
      } else if (!r.threadId) e.threadId = threadIdOf(r, id);
      e.copies.push({ mailboxId: m.id, uid: r.uid, flags: r.flags, modseq: r.modseq });
    }
  });
  return emails;
}
