/**
 * LIST (RFC 9051 §6.3.9) with LIST-EXTENDED selection/return options (RFC 5258), CHILDREN
 * (RFC 3348), SPECIAL-USE (RFC 6154), LIST-STATUS (RFC 5819); LSUB (RFC 3501 §6.3.9).
 *
 * Names that exist only as the parent of another mailbox are listed with \Noselect.
 * \HasChildren/\HasNoChildren and special-use attributes are always returned (allowed by
 * RFC 5258 §4 and RFC 6154 §5.1 even when not asked for).
 *
 * Subscriptions are a list of names of their own (core/ports/mail-index.ts): a subscribed name
 * whose mailbox is gone is listed by LSUB with \Noselect (RFC 3501 §6.3.9) and by
 * LIST (SUBSCRIBED) with \NonExistent (RFC 5258 §3.1, §3.4).
 */
import type { Mailbox } from '#core/ports/mail-index.ts';
import type { ListRequest } from '#listeners/imap/protocol/requests.ts';
import type { Chunk } from '#listeners/imap/protocol/encode.ts';
import { ok, type Tagged } from '../errors.ts';
import { decodeMailboxName, encodeMailboxName, MailboxNameError, normalizeInbox, parentsOf, patternMatcher } from '../mailbox-names.ts';
import type { ImapSession } from '../session.ts';
import { statusAttributes } from './status.ts';

function sortNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A pattern is decoded like a name, but a wildcard may sit inside what looks like a modified
 * UTF-7 shift ("*&*"): when decoding fails the pattern is matched as given (as Dovecot does;
 * RFC 3501 §6.3.8 only asks that it be interpreted, and a pattern that fails is no error).
 */
function decodePattern(bytes: Buffer, utf8: boolean): string {
  try {
    return decodeMailboxName(bytes, utf8);
  } catch (err) {
    if (!(err instanceof MailboxNameError)) throw err;
    return normalizeInbox(bytes.toString(bytes.some((b) => b >= 0x80) ? 'utf8' : 'latin1'));
  }
}

export async function list(s: ImapSession, req: ListRequest): Promise<Tagged> {
  const verb = req.name;
  const reference = req.reference.length === 0 ? '' : decodeMailboxName(req.reference, s.utf8);
  const patterns = req.patterns.map((p) => (p.length === 0 ? '' : decodePattern(p, s.utf8)));

  // RFC 9051 §6.3.9: LIST "" "" asks for the hierarchy delimiter and root.
  if (verb === 'LIST' && patterns.every((p) => p === '') && req.selection.length === 0) {
    s.untagged('LIST (\\Noselect) "/" ""');
    return ok('LIST completed');
  }

  const mailboxes = await s.deps.adapters.index.listMailboxes(s.user!);
  const byName = new Map<string, Mailbox>(mailboxes.map((m) => [m.name, m]));
  const parents = new Set<string>();
  for (const m of mailboxes) for (const p of parentsOf(m.name)) parents.add(p);
  const matchers = patterns.filter((p) => p !== '').map((p) => patternMatcher(reference, p));
  const matches = (name: string) => matchers.some((m) => m(name));

  const wantsSubscriptions = verb === 'LSUB' || req.selection.includes('SUBSCRIBED') || !!req.returnOptions?.subscribed;
  const subscribed = wantsSubscriptions ? await s.deps.adapters.index.listSubscriptions(s.user!) : [];
  const subscribedSet = new Set(subscribed);

  if (verb === 'LSUB') {
    const candidates = new Set(subscribed);
    // RFC 3501 §6.3.9: with '%' last, an unsubscribed parent of subscribed names is listed \Noselect.
    if (patterns.some((p) => p.endsWith('%'))) for (const n of subscribed) for (const p of parentsOf(n)) candidates.add(p);
    for (const name of sortNames(candidates)) {
      if (!matches(name)) continue;
      const attrs = subscribedSet.has(name) ? (byName.has(name) ? [] : ['\\Noselect']) : ['\\Noselect'];
      s.untagged([`LSUB (${attrs.join(' ')}) "/" `, ...encodeMailboxName(name, s.utf8)]);
    }
    return ok('LSUB completed');
  }

  const selSubscribed = req.selection.includes('SUBSCRIBED');
  const selSpecialUse = req.selection.includes('SPECIAL-USE');
  const recursive = req.selection.includes('RECURSIVEMATCH');
  const ro = req.returnOptions;
  const showSubscribed = selSubscribed || !!ro?.subscribed;
  // RFC 5258 §3.1: with the SUBSCRIBED selection, subscribed names that do not exist are listed
  // too (and, for RECURSIVEMATCH, their superior names, which may carry CHILDINFO).
  const candidates = new Set<string>([...byName.keys(), ...parents]);
  if (selSubscribed) for (const n of subscribed) candidates.add(n);
  if (selSubscribed && recursive) for (const n of subscribed) for (const p of parentsOf(n)) candidates.add(p);

  const selected = (name: string): boolean => {
    const mb = byName.get(name);
    if (selSubscribed && !subscribedSet.has(name)) return false;
    if (selSpecialUse && !mb?.specialUse) return false;
    return true;
  };
  // Names with a selected descendant (RECURSIVEMATCH), in one pass over the candidates.
  const withSelectedDescendant = new Set<string>();
  if (recursive) for (const n of candidates) if (selected(n)) for (const p of parentsOf(n)) withSelectedDescendant.add(p);

  for (const name of sortNames(candidates)) {
    if (!matches(name)) continue;
    const mb = byName.get(name);
    const extended: Chunk[] = [];
    if (!selected(name)) {
      // RFC 5258 §3.5 RECURSIVEMATCH: a non-matching name with matching descendants is
      // returned with CHILDINFO.
      if (!recursive) continue;
      if (!withSelectedDescendant.has(name)) continue;
      const info = [selSubscribed ? '"SUBSCRIBED"' : null, selSpecialUse ? '"SPECIAL-USE"' : null].filter(Boolean).join(' ');
      extended.push(` ("CHILDINFO" (${info}))`);
    }
    const attrs: string[] = [];
    // A name that is neither a mailbox nor a parent of one (a subscription left over) does not exist.
    if (!mb && !parents.has(name)) attrs.push('\\NonExistent');
    else {
      if (!mb) attrs.push('\\Noselect');
      attrs.push(parents.has(name) ? '\\HasChildren' : '\\HasNoChildren');
    }
    if (mb?.specialUse) attrs.push(mb.specialUse);
    if (showSubscribed && subscribedSet.has(name)) attrs.push('\\Subscribed');
    s.untagged([`LIST (${attrs.join(' ')}) "/" `, ...encodeMailboxName(name, s.utf8), ...extended]);
    if (ro?.status && mb) {
      // RFC 5819: STATUS follows the LIST of each selectable mailbox.
      const attrsText = await statusAttributes(s, mb, ro.status);
      s.untagged(['STATUS ', ...encodeMailboxName(name, s.utf8), ' ', attrsText]);
    }
  }
  return ok('LIST completed');
}
