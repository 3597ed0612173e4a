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
/** Most wildcards ('*', '%') in one LIST pattern. */
export const MAX_PATTERN_WILDCARDS = 64;
/** Most mailboxes one user may have (CREATE beyond is NO [LIMIT], RFC 5530). */
export const MAX_MAILBOXES_PER_USER = 1000;

/**
 * LIST pattern (reference + mailbox, RFC 3501 §6.3.8) → matcher. '*' matches anything, '%'
 * anything but the separator. INBOX (and the first level "INBOX/") match case-insensitively.
 *
 * Matching simulates the pattern as an automaton over a sparse set of live positions (never
 * the backtracking a regular expression falls into with many wildcards). A live wildcard
 * makes every live position before it redundant: whatever the earlier position could still
 * match, the wildcard matches too ('*' always; '%' when nothing between the two could have
 * consumed a separator). Dropping those keeps the live set to the last wildcard plus the
 * literal run after it, so a name costs about O(name × run) instead of O(name × pattern).
 */
export function patternMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full: string;
  if (pattern.startsWith(SEPARATOR) && reference.endsWith(SEPARATOR)) full = reference + pattern.slice(1);
  else full = reference + pattern;
  full = normalizeInboxPattern(full);
  if (full.length > MAX_PATTERN_LENGTH) throw new MailboxNameError('Pattern too long');
  // Consecutive '*' are one '*'; '%' next to '*' adds nothing.
  const tokens = [...full.replace(/[*%]*\*[*%]*/g, '*')];
  const m = tokens.length;
  let wildcards = 0;
  for (const t of tokens) if (t === '*' || t === '%') wildcards++;
  if (wildcards > MAX_PATTERN_WILDCARDS) throw new MailboxNameError('Pattern has too many wildcards');
  // floor[i]: for a wildcard at i, the lowest position it makes redundant.
  const floor = new Int32Array(m + 1);
  let lastCut = 0;
  for (let i = 0; i < m; i++) {
    const t = tokens[i];
    if (t === '*') floor[i] = 0;
    else if (t === '%') floor[i] = lastCut;
    if (t === '*' || t === SEPARATOR) lastCut = i + 1;
  }
  const isWild = (i: number) => i < m && (tokens[i] === '*' || tokens[i] === '%');
  /** Adds position i and the positions reachable by skipping wildcards (matching nothing). */
  const addClosed = (set: Set<number>, i: number) => {
    set.add(i);
    while (isWild(i)) set.add(++i);
  };
  const dominated = (j: number, live: number[]): boolean => {
    for (const i of live) if (i > j && isWild(i) && floor[i] <= j) return true;
    return false;
  };
  return (name) => {
    const start = new Set<number>();
    addClosed(start, 0);
    let states = [...start];
    for (const c of name) {
      const next = new Set<number>();
      for (const i of states) {
        if (i >= m) continue;
        const t = tokens[i];
        if (t === '*' || (t === '%' && c !== SEPARATOR)) addClosed(next, i);
        else if (t === c) addClosed(next, i + 1);
      }
      if (next.size === 0) return false;
      const live = [...next];
      states = live.length > 1 ? live.filter((j) => !dominated(j, live)) : live;
    }
    return states.includes(m);
  };
}

function normalizeInboxPattern(p: string): string {
  // "inbox", "Inbox/%"… but not "inboxes": only the whole first level.
  const m = /^(inbox)(\/|$)/i.exec(p);
  return m ? 'INBOX' + p.slice(5) : p;
}
