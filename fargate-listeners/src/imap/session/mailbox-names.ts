/**
 * Mailbox names on the wire and in the index (RFC 9051 §5.1, RFC 3501 §5.1): '/' is the
 * hierarchy separator; INBOX is case-insensitive and stored as 'INBOX' (also as the first
 * level, "inbox/x" → "INBOX/x"); rev1 clients speak modified UTF-7, IMAP4rev2 clients UTF-8.
 */
import { stringChunks, type Chunk } from '../protocol/encode.ts';
import { decodeMutf7, encodeMutf7, Mutf7Error } from '../protocol/mutf7.ts';

export const SEPARATOR = '/';
export const MAX_NAME_LENGTH = 512;
export const MAX_NAME_DEPTH = 16;

export class MailboxNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailboxNameError';
  }
}

/** The name the client sent, as the index spells it. */
export function decodeMailboxName(bytes: Buffer, utf8Mode: boolean): string {
  let name: string;
  const has8bit = bytes.some((b) => b >= 0x80);
  if (utf8Mode || has8bit) {
    // 8-bit in a rev1 session is not modified UTF-7; accept it as UTF-8 (RFC 6855 spirit).
    try {
      name = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new MailboxNameError('Mailbox name is not valid UTF-8');
    }
    if (!utf8Mode && !has8bit) name = decodeMutf7(name);
  } else {
    try {
      name = decodeMutf7(bytes.toString('latin1'));
    } catch (err) {
      if (err instanceof Mutf7Error) throw new MailboxNameError(`Mailbox name is not valid modified UTF-7: ${err.message}`);
      throw err;
    }
  }
  return normalizeInbox(name);
}

export function normalizeInbox(name: string): string {
  if (/^inbox$/i.test(name)) return 'INBOX';
  if (/^inbox\//i.test(name)) return 'INBOX' + name.slice(5);
  return name;
}

/** The name for the wire: a quoted string (or literal), mUTF-7 unless UTF-8 is on. */
export function encodeMailboxName(name: string, utf8Mode: boolean): Chunk[] {
  return stringChunks(utf8Mode ? name : encodeMutf7(name), { utf8: utf8Mode });
}

/**
 * Rules for a name a client creates or renames to: no empty levels ("a//b", "/a"), no "."
 * or ".." levels, no wildcards ('*', '%' would make LIST patterns ambiguous), no control
 * characters, bounded length and depth.
 */
export function validateNewName(name: string): void {
  if (name.length === 0) throw new MailboxNameError('Empty mailbox name');
  if (name.length > MAX_NAME_LENGTH) throw new MailboxNameError('Mailbox name too long');
  if (/[*%]/.test(name)) throw new MailboxNameError('Mailbox name may not contain * or %');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) throw new MailboxNameError('Mailbox name may not contain control characters');
  const levels = name.split(SEPARATOR);
  if (levels.length > MAX_NAME_DEPTH) throw new MailboxNameError('Mailbox hierarchy too deep');
  for (const level of levels) {
    if (level.length === 0) throw new MailboxNameError('Mailbox name has an empty hierarchy level');
    if (level === '.' || level === '..') throw new MailboxNameError('Mailbox name may not contain . or .. levels');
    if (level.trim().length === 0) throw new MailboxNameError('Mailbox name has a blank hierarchy level');
  }
}

/** All proper ancestors: "a/b/c" → ["a", "a/b"]. */
export function parentsOf(name: string): string[] {
  const levels = name.split(SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < levels.length; i++) out.push(levels.slice(0, i).join(SEPARATOR));
  return out;
}

/** Longest LIST pattern accepted (reference + mailbox), in characters. */
export const MAX_PATTERN_LENGTH = 1024;

/**
 * LIST pattern (reference + mailbox, RFC 3501 §6.3.8) → matcher. '*' matches anything, '%'
 * anything but the separator. INBOX (and the first level "INBOX/") match case-insensitively.
 * Matching simulates the pattern as an automaton — O(name × pattern), never the exponential
 * backtracking a regular expression can fall into with many wildcards.
 */
export function patternMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full: string;
  if (pattern.startsWith(SEPARATOR) && reference.endsWith(SEPARATOR)) full = reference + pattern.slice(1);
  else full = reference + pattern;
  full = normalizeInboxPattern(full);
  if (full.length > MAX_PATTERN_LENGTH) throw new MailboxNameError('Pattern too long');
  // Consecutive '*' are one '*'.
  const tokens = [...full.replace(/\*{2,}/g, '*')];
  const m = tokens.length;
  const closure = (states: Uint8Array) => {
    for (let i = 0; i < m; i++) if (states[i] && (tokens[i] === '*' || tokens[i] === '%')) states[i + 1] = 1;
  };
  return (name) => {
    let states = new Uint8Array(m + 1);
    states[0] = 1;
    closure(states);
    for (const c of name) {
      const next = new Uint8Array(m + 1);
      let any = false;
      for (let i = 0; i < m; i++) {
        if (!states[i]) continue;
        const t = tokens[i];
        if (t === '*' || (t === '%' && c !== SEPARATOR)) {
          next[i] = 1;
          any = true;
        } else if (t === c) {
          next[i + 1] = 1;
          any = true;
        }
      }
      if (!any) return false;
      closure(next);
      states = next;
    }
    return states[m] === 1;
  };
}

function normalizeInboxPattern(p: string): string {
  // "inbox", "Inbox/%"… but not "inboxes": only the whole first level.
  const m = /^(inbox)(\/|$)/i.exec(p);
  return m ? 'INBOX' + p.slice(5) : p;
}
