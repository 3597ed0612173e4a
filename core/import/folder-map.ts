/**
 * Where a source folder goes in our mailbox tree (`mailctl import imap`, core/import/imap-import.ts).
 *
 *  - INBOX is INBOX (any case, RFC 9051 §5.1).
 *  - A folder marked with a SPECIAL-USE attribute (RFC 6154 §2) goes to our mailbox with that
 *    use (Sent, Drafts, Trash, Junk, Archive); so does one with a common name for it at the top
 *    level or under Gmail's `[Gmail]`/`[Google Mail]` ("Sent Items", "Deleted Items",
 *    "Junk E-mail", "[Gmail]/Sent Mail", …), for servers that mark nothing.
 *  - Gmail's `\All` folder ("[Gmail]/All Mail") holds every message, also those of every label:
 *    it goes to Archive, imported last and de-duplicated against what the other folders brought
 *    (core/import/dedup.ts), so a message archived without a label arrives once. `\Flagged`
 *    ("[Gmail]/Starred") and `\Important` are views of messages that are elsewhere: skipped.
 *  - Any other folder keeps its name, the hierarchy separator translated to our `/`; a `/`
 *    inside a source name component (possible where the source separator is `.`) becomes `-`.
 */
import type { SpecialUse } from '../ports/mail-index.ts';

export interface SourceFolder {
  /** The source's name (UTF-8; modified UTF-7 already decoded). */
  path: string;
  /** The source's hierarchy separator; null for a flat namespace. */
  delimiter: string | null;
  /** LIST attributes (`\Noselect`, `\Sent`, `\HasChildren`, …) as the server sent them. */
  flags: string[];
  subscribed: boolean;
}

export type FolderPlan =
  | {
      kind: 'copy';
      target: string;
      specialUse: SpecialUse | null;
      /** \All: de-duplicated against all other target mailboxes, imported last. */ allMail: boolean;
    }
  | { kind: 'skip'; reason: string };

/** Our names for the special uses, as `user add` creates them (core/accounts/accounts.ts). */
export const SPECIAL_USE_NAMES: Record<Exclude<SpecialUse, '\\All' | '\\Flagged'>, string> = {
  '\\Sent': 'Sent',
  '\\Drafts': 'Drafts',
  '\\Trash': 'Trash',
  '\\Junk': 'Junk',
  '\\Archive': 'Archive',
};

/** Common names (lower case, last component, at the top or under [Gmail]) of special-use folders. */
const COMMON_NAMES: Array<[SpecialUse, string[]]> = [
  [
    '\\Sent',
    [
      'sent',
      'sent items',
      'sent messages',
      'sent mail',
      'sent-mail',
      'outbox sent',
      'gesendet',
      'gesendete objekte',
      'gesendete elemente',
      'envoyés',
      'éléments envoyés',
      'verzonden items',
      'elementos enviados',
      'posta inviata',
    ],
  ],
  ['\\Drafts', ['drafts', 'draft', 'entwürfe', 'brouillons', 'concepten', 'borradores', 'bozze']],
  [
    '\\Trash',
    [
      'trash',
      'deleted items',
      'deleted messages',
      'deleted',
      'bin',
      'papierkorb',
      'gelöschte elemente',
      'gelöschte objekte',
      'corbeille',
      'éléments supprimés',
      'verwijderde items',
      'elementos eliminados',
      'cestino',
    ],
  ],
  [
    '\\Junk',
    [
      'junk',
      'junk e-mail',
      'junk email',
      'junk mail',
      'spam',
      'bulk mail',
      'junk-e-mail',
      'courrier indésirable',
      'ongewenste e-mail',
      'correo no deseado',
      'posta indesiderata',
    ],
  ],
  ['\\Archive', ['archive', 'archives', 'archiv', 'archief']],
  ['\\All', ['all mail', 'alle nachrichten']],
  ['\\Flagged', ['starred', 'markiert']],
];

const ATTRIBUTE_USES: Record<string, SpecialUse | 'important'> = {
  '\\sent': '\\Sent',
  '\\drafts': '\\Drafts',
  '\\trash': '\\Trash',
  '\\junk': '\\Junk',
  '\\archive': '\\Archive',
  '\\all': '\\All',
  '\\flagged': '\\Flagged',
  '\\important': 'important',
};

function components(folder: SourceFolder): string[] {
  return folder.delimiter ? folder.path.split(folder.delimiter) : [folder.path];
}

/** The special use a folder has: by attribute first, else by a common name. */
export function specialUseOf(folder: SourceFolder): SpecialUse | 'important' | null {
  for (const f of folder.flags) {
    const use = ATTRIBUTE_USES[f.toLowerCase()];
    if (use) return use;
  }
  const parts = components(folder);
  const gmail = parts.length === 2 && /^\[(gmail|google mail)\]$/i.test(parts[0]);
  if (parts.length !== 1 && !gmail) return null;
  const last = parts[parts.length - 1].toLowerCase();
  if (gmail && last === 'important') return 'important';
  for (const [use, names] of COMMON_NAMES) if (names.includes(last)) return use;
  return null;
}

export function planFolder(folder: SourceFolder): FolderPlan {
  if (folder.flags.some((f) => /^\\(noselect|nonexistent)$/i.test(f))) return { kind: 'skip', reason: 'not selectable (a name in the hierarchy only)' };
  if (folder.path.toUpperCase() === 'INBOX') return { kind: 'copy', target: 'INBOX', specialUse: null, allMail: false };
  const use = specialUseOf(folder);
  if (use === '\\Flagged' || use === 'important')
    return { kind: 'skip', reason: `a view of messages kept in other folders (${use === 'important' ? '\\Important' : '\\Flagged'})` };
  if (use === '\\All') return { kind: 'copy', target: SPECIAL_USE_NAMES['\\Archive'], specialUse: '\\Archive', allMail: true };
  if (use) return { kind: 'copy', target: SPECIAL_USE_NAMES[use], specialUse: use, allMail: false };
  const parts = components(folder).map((p) => p.replace(/\//g, '-'));
  // "INBOX.Sub" on servers that keep folders under INBOX (Courier, Cyrus): the name stays as is.
  return { kind: 'copy', target: parts.join('/'), specialUse: null, allMail: false };
}
