/**
 * `mailctl export mbox|maildir`: the way out. Every message is written byte for byte as stored,
 * with its flags and INTERNALDATE:
 *  - Maildir (core/import/maildir-format.ts): INBOX at the root, other mailboxes as Maildir++
 *    folders (`Work/Clients` → `.Work.Clients`; a `.` inside a name becomes `_`, Maildir++ has no
 *    way to write it), one file per message in cur/ named `<date>.M<uid>U<uidvalidity>.mailctl,S=<size>:2,<info>`
 *    with the flags in the info and keywords as letters from the folder's `dovecot-keywords`
 *    (26 at most per folder, Dovecot's limit; more are reported), mtime = INTERNALDATE.
 *    Files are written to tmp/ and renamed into cur/ (the Maildir protocol), so a reader never
 *    sees half a message; a rerun writes the same names again.
 *  - mbox (core/import/mbox-format.ts): mboxrd, a `From ` line with the envelope sender and the
 *    INTERNALDATE (UTC), then `Status:`, `X-Status:` and `X-Keywords:` for the flags, then the
 *    message with `>*From ` lines escaped, then one empty line. With `--mailbox` one file; else a
 *    directory with `<name>.mbox` per mailbox (`Work/Clients` → `Work/Clients.mbox`).
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Mailbox, MessageRecord } from '../ports/mail-index.ts';
import type { MailStores } from '../mailbox/writes.ts';
import { infoFor } from '../import/maildir-format.ts';
import { escapeFromLines, fromLine, statusHeaders } from '../import/mbox-format.ts';

export interface ExportResult {
  mailboxes: Array<{ name: string; messages: number; bytes: number; path: string }>;
  /** Things that could not be written as they are (keywords over the per-folder limit). */
  warnings: string[];
}

async function mailboxesOf(stores: MailStores, user: string, only: string | undefined): Promise<Mailbox[]> {
  const boxes = (await stores.index.listMailboxes(user)).sort((a, b) => (a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : 1));
  if (only === undefined) return boxes;
  const box = boxes.find((b) => b.name === only);
  if (!box) throw new Error(`no mailbox ${only} for ${user}`);
  return [box];
}

export async function exportMaildir(stores: MailStores, user: string, root: string, options: { mailbox?: string } = {}): Promise<ExportResult> {
  const result: ExportResult = { mailboxes: [], warnings: [] };
  for (const box of await mailboxesOf(stores, user, options.mailbox)) {
    const dir =
      box.name === 'INBOX'
        ? root
        : path.join(
            root,
            '.' +
              box.name
                .split('/')
                .map((p) => p.replace(/\./g, '_'))
                .join('.'),
          );
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(dir, sub), { recursive: true });
    if (box.name !== 'INBOX') await writeFile(path.join(dir, 'maildirfolder'), '');
    const keywords: string[] = [];
    const letterOf = (k: string): string | null => {
      let i = keywords.findIndex((x) => x.toLowerCase() === k.toLowerCase());
      if (i < 0) {
        if (keywords.length >= 26) {
          result.warnings.push(`${box.name}: keyword ${k} not written (more than 26 keywords in the folder)`);
          return null;
        }
        keywords.push(k);
        i = keywords.length - 1;
      }
      return String.fromCharCode(97 + i);
    };
    let bytes = 0;
    const messages = await stores.index.listMessages(user, box.id);
    for (const m of messages) {
      const raw = await stores.blobs.get(m.blobKey);
      const name = `${Math.floor(m.internalDate / 1000)}.M${m.uid}U${box.uidValidity}.mailctl,S=${raw.length}${infoFor(m.flags, letterOf)}`;
      const tmp = path.join(dir, 'tmp', name);
      await writeFile(tmp, raw);
      const date = new Date(m.internalDate);
      await utimes(tmp, date, date);
      await rename(tmp, path.join(dir, 'cur', name));
      bytes += raw.length;
    }
    if (keywords.length > 0) await writeFile(path.join(dir, 'dovecot-keywords'), keywords.map((k, i) => `${i} ${k}\n`).join(''));
    result.mailboxes.push({ name: box.name, messages: messages.length, bytes, path: dir });
  }
  return result;
}

function sender(m: MessageRecord): string {
  const from = m.meta?.envelope.from?.[0];
  const addr = from?.mailbox && from.host ? `${from.mailbox}@${from.host}` : '';
  return /^[^\s]+$/.test(addr) ? addr : 'MAILER-DAEMON';
}

export async function exportMbox(stores: MailStores, user: string, target: string, options: { mailbox?: string } = {}): Promise<ExportResult> {
  const result: ExportResult = { mailboxes: [], warnings: [] };
  for (const box of await mailboxesOf(stores, user, options.mailbox)) {
    const file = options.mailbox !== undefined ? target : path.join(target, ...box.name.split('/')) + '.mbox';
    await mkdir(path.dirname(file), { recursive: true });
    const out = createWriteStream(file);
    const write = async (b: Buffer | string) => {
      if (!out.write(b)) await once(out, 'drain');
    };
    let bytes = 0;
    const messages = await stores.index.listMessages(user, box.id, { withMeta: true });
    for (const m of messages) {
      const raw = await stores.blobs.get(m.blobKey);
      await write(fromLine(sender(m), m.internalDate));
      await write(statusHeaders(m.flags));
      await write(escapeFromLines(raw));
      await write('\n');
      bytes += raw.length;
    }
    out.end();
    await once(out, 'finish');
    result.mailboxes.push({ name: box.name, messages: messages.length, bytes, path: file });
  }
  return result;
}
