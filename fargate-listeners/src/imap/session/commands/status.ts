/**
 * STATUS (RFC 9051 §6.3.11; SIZE from RFC 8438, DELETED from RFC 9051, HIGHESTMODSEQ from RFC
 * 7162 §3.1.7, DELETED-STORAGE from RFC 9208 §4.2.2). Also LIST-STATUS.
 */
import type { Mailbox } from '#core/ports/mail-index.ts';
import type { StatusItem, StatusRequest } from '#listeners/imap/protocol/requests.ts';
import { ok, no, type Tagged } from '../errors.ts';
import { decodeMailboxName, encodeMailboxName } from '../mailbox-names.ts';
import type { ImapSession } from '../session.ts';

/** `(MESSAGES n UIDNEXT n …)` for one mailbox; lists messages only for counts that need flags or sizes. */
export async function statusAttributes(s: ImapSession, mailbox: Mailbox, items: StatusItem[]): Promise<string> {
  const { index } = s.deps.adapters;
  const state = (await index.mailboxState(s.user!, mailbox.id)) ?? mailbox;
  const needList = items.some((i) => i === 'UNSEEN' || i === 'SIZE' || i === 'DELETED' || i === 'RECENT' || i === 'DELETED-STORAGE');
  const records = needList ? await index.listMessages(s.user!, mailbox.id) : null;
  const out: string[] = [];
  for (const item of items) {
    switch (item) {
      case 'MESSAGES':
        out.push(`MESSAGES ${records ? records.length : state.messageCount}`);
        break;
      case 'RECENT': {
        s.ctx.recent.observe(mailbox.id, state.uidNext);
        out.push(
          `RECENT ${
            s.ctx.recent.peek(
              mailbox.id,
              records!.map((r) => r.uid),
            ).length
          }`,
        );
        break;
      }
      case 'UIDNEXT':
        out.push(`UIDNEXT ${state.uidNext}`);
        break;
      case 'UIDVALIDITY':
        out.push(`UIDVALIDITY ${state.uidValidity}`);
        break;
      case 'UNSEEN':
        out.push(`UNSEEN ${records!.filter((r) => !r.flags.includes('\\Seen')).length}`);
        break;
      case 'SIZE':
        out.push(`SIZE ${records!.reduce((n, r) => n + r.size, 0)}`);
        break;
      case 'DELETED':
        out.push(`DELETED ${records!.filter((r) => r.flags.includes('\\Deleted')).length}`);
        break;
      case 'MAILBOXID':
        // RFC 8474 §4.2: the mailbox's id, which survives RENAME; the JMAP Mailbox id too.
        out.push(`MAILBOXID (${mailbox.id})`);
        break;
      case 'DELETED-STORAGE':
        // RFC 9208 §4.2.2: what an EXPUNGE would free, in STORAGE units (1024 octets).
        out.push(`DELETED-STORAGE ${Math.ceil(records!.filter((r) => r.flags.includes('\\Deleted')).reduce((n, r) => n + r.size, 0) / 1024)}`);
        break;
      case 'HIGHESTMODSEQ':
        // A CONDSTORE enabling command (RFC 7162 §3.1). A new mailbox starts at 1.
        s.enableCondstore();
        out.push(`HIGHESTMODSEQ ${Math.max(1, state.highestModseq)}`);
        break;
    }
  }
  return `(${out.join(' ')})`;
}

export async function status(s: ImapSession, req: StatusRequest): Promise<Tagged> {
  const name = decodeMailboxName(req.mailbox, s.utf8);
  const mailbox = await s.deps.adapters.index.getMailbox(s.user!, name);
  if (!mailbox) throw no('No such mailbox', 'NONEXISTENT');
  const attrs = await statusAttributes(s, mailbox, req.items);
  s.untagged(['STATUS ', ...encodeMailboxName(mailbox.name, s.utf8), ' ', attrs]);
  return ok('STATUS completed');
}
