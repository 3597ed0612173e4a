/**
 * Maildir (cr.yp.to/proto/maildir.html) with Maildir++ folders (Courier, Dovecot): the root is
 * INBOX, each other folder a directory `.A.B` beside cur/ new/ tmp/ (hierarchy `A/B` here);
 * a message is one file in cur/ (seen by a client) or new/. The name's info part after `:2,`
 * holds the flags in ASCII order: D \Draft, F \Flagged, P passed ($Forwarded), R \Answered,
 * S \Seen, T trashed (\Deleted); lower-case letters a–z are keywords, numbered in the folder's
 * `dovecot-keywords` file (Dovecot's convention: lines `<n> <keyword>`). The file's mtime is
 * the INTERNALDATE.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

export const INFO_FLAGS: Array<[string, string]> = [
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['P', '$Forwarded'],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
  ['T', '\\Deleted'],
];

export interface MaildirFolder {
  /** Our name: 'INBOX' or the Maildir++ name with '.' → '/'. */
  name: string;
  dir: string;
}

export interface MaildirFile {
  file: string;
  /** The unique part of the name (before `:2,`): the message's identity for resuming. */
  unique: string;
  size: number;
  mtime: number;
  flags: string[];
}

/** INBOX and the Maildir++ subfolders of `root`, INBOX first, then by name. */
export async function maildirFolders(root: string): Promise<MaildirFolder[]> {
  const out: MaildirFolder[] = [{ name: 'INBOX', dir: root }];
  for (const e of (await readdir(root, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory() || !e.name.startsWith('.') || e.name === '.' || e.name === '..') continue;
    const name = e.name.slice(1);
    if (!name) continue;
    out.push({ name: name.split('.').join('/'), dir: path.join(root, e.name) });
  }
  return out;
}

async function keywordTable(dir: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  try {
    for (const line of (await readFile(path.join(dir, 'dovecot-keywords'), 'utf8')).split('\n')) {
      const m = /^(\d+) (.+)$/.exec(line.trim());
      if (m && Number(m[1]) < 26) map.set(String.fromCharCode(97 + Number(m[1])), m[2]);
    }
  } catch {
    // No keywords file: lower-case letters mean nothing.
  }
  return map;
}

/** The messages of one folder (cur/ and new/), oldest first (mtime, then name). */
export async function maildirMessages(dir: string): Promise<MaildirFile[]> {
  const keywords = await keywordTable(dir);
  const out: MaildirFile[] = [];
  for (const sub of ['cur', 'new']) {
    let names: string[];
    try {
      names = await readdir(path.join(dir, sub));
    } catch {
      continue;
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const file = path.join(dir, sub, n);
      const st = await stat(file);
      if (!st.isFile()) continue;
      const colon = n.indexOf(':2,');
      const info = colon >= 0 ? n.slice(colon + 3) : '';
      const flags: string[] = [];
      for (const [c, f] of INFO_FLAGS) if (info.includes(c)) flags.push(f);
      for (const c of info) if (c >= 'a' && c <= 'z' && keywords.has(c)) flags.push(keywords.get(c)!);
      out.push({ file, unique: colon >= 0 ? n.slice(0, colon) : n.replace(/:.*$/, ''), size: st.size, mtime: Math.floor(st.mtimeMs), flags });
    }
  }
  return out.sort((a, b) => a.mtime - b.mtime || (a.unique < b.unique ? -1 : 1));
}

/** The info part (`:2,…`) for flags, and the keywords that need a letter. */
export function infoFor(flags: readonly string[], letterOf: (keyword: string) => string | null): string {
  const lower = new Set(flags.map((f) => f.toLowerCase()));
  let info = INFO_FLAGS.filter(([, f]) => lower.has(f.toLowerCase()))
    .map(([c]) => c)
    .join('');
  const letters = flags
    .filter((f) => !f.startsWith('\\') && f.toLowerCase() !== '$forwarded')
    .map(letterOf)
    .filter((l): l is string => l !== null)
    .sort();
  info += [...new Set(letters)].join('');
  return `:2,${info}`;
}
