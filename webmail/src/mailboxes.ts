/** Mailboxes as the JMAP server lists them (RFC 8621 §2), ordered and named for people. */
export interface Mailbox {
  id: string;
  name: string;
  parentId: string | null;
  role: string | null;
  sortOrder: number;
  totalEmails: number;
  unreadEmails: number;
}

const ROLE_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];
export const ROLE_NAMES: Record<string, string> = { inbox: 'Inbox', drafts: 'Drafts', sent: 'Sent', archive: 'Archive', junk: 'Junk', trash: 'Trash' };

export function displayName(m: Mailbox): string {
  return (m.role && ROLE_NAMES[m.role]) || m.name;
}

/** Depth-first: special-use mailboxes first in the usual order, then the others by name. */
export function mailboxTree(all: Mailbox[]): Array<{ mailbox: Mailbox; depth: number }> {
  const rank = (m: Mailbox) => {
    const i = m.role ? ROLE_ORDER.indexOf(m.role) : -1;
    return i < 0 ? ROLE_ORDER.length : i;
  };
  const children = (parentId: string | null) =>
    all.filter((m) => m.parentId === parentId).sort((a, b) => rank(a) - rank(b) || a.sortOrder - b.sortOrder || displayName(a).localeCompare(displayName(b)));
  const out: Array<{ mailbox: Mailbox; depth: number }> = [];
  const walk = (parentId: string | null, depth: number) => {
    for (const m of children(parentId)) {
      out.push({ mailbox: m, depth });
      walk(m.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

export function byRole(all: Mailbox[], role: string): Mailbox | undefined {
  return all.find((m) => m.role === role);
}
