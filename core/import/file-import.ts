/**
 * `mailctl import mbox` and `mailctl import maildir`: files on this machine into one user,
 * through MailboxWrites.append like every other write. Bytes are stored in the canonical CRLF
 * form every message here has (core/mime/crlf.ts: an LF-only Maildir file becomes CRLF; a CRLF
 * message stays byte for byte). Reruns never duplicate: each message is appended with a delivery
 * key naming the file or folder and the message in it (mbox: the byte offset of its `From `
 * line; Maildir: the unique part of its file name, which stays when a client changes flags).
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { MailboxWrites, type MailStores } from '../mailbox/writes.ts';
import { toCanonicalCrlf } from '../mime/crlf.ts';
import { planFolder } from './folder-map.ts';
import { maildirFolders, maildirMessages } from './maildir-format.ts';
import { readMbox } from './mbox-format.ts';
import { ImportProgress, type ImportSummary, type ProgressOutputs } from './progress.ts';
import { sourceHash } from './state.ts';
import { ensureMailbox } from './target.ts';

export interface FileImportOptions {
  progress?: ProgressOutputs;
  log?: Logger;
}

/** Imports one mbox file into `mailbox` (default INBOX; created when missing). */
export async function importMbox(
  stores: MailStores,
  user: string,
  file: string,
  options: FileImportOptions & { mailbox?: string; format?: 'mboxrd' | 'mboxo' } = {},
): Promise<ImportSummary> {
  const abs = path.resolve(file);
  const source = `mbox:${abs}`;
  const progress = new ImportProgress(source, user, options.progress);
  const writes = new MailboxWrites(stores, { log: options.log ?? silentLogger });
  const target = await ensureMailbox(stores.index, user, options.mailbox ?? 'INBOX', null);
  const folder = path.basename(abs);
  // A first pass counts the messages, so progress has an end to aim at.
  let count = 0;
  for await (const m of readMbox(createReadStream(abs), options.format)) if (m) count++;
  progress.planFolder(folder, target, count, (await stat(abs)).size);
  progress.planned();
  progress.folderStarted(folder);
  const hash = sourceHash(source);
  try {
    for await (const m of readMbox(createReadStream(abs), options.format)) {
      const raw = toCanonicalCrlf(m.raw);
      const r = await writes.append(user, target, raw, {
        flags: m.flags,
        internalDate: m.internalDate ?? Date.now(),
        deliveryKey: `import:${hash}:${m.offset}`,
      });
      if (r.duplicate) progress.present(folder, m.raw.length);
      else progress.copied(folder, m.raw.length);
    }
    progress.folderDone(folder);
  } catch (err) {
    progress.folderDone(folder, (err as Error).message);
  }
  return progress.summary();
}

/** Imports a Maildir with its Maildir++ folders (special-use names mapped as for IMAP). */
export async function importMaildir(stores: MailStores, user: string, root: string, options: FileImportOptions = {}): Promise<ImportSummary> {
  const abs = path.resolve(root);
  const source = `maildir:${abs}`;
  const progress = new ImportProgress(source, user, options.progress);
  const writes = new MailboxWrites(stores, { log: options.log ?? silentLogger });
  const hash = sourceHash(source);
  const work: Array<{ name: string; target: string; files: Awaited<ReturnType<typeof maildirMessages>> }> = [];
  for (const f of await maildirFolders(abs)) {
    const plan = planFolder({ path: f.name, delimiter: '/', flags: [], subscribed: false });
    if (plan.kind === 'skip') {
      progress.skipFolder(f.name, plan.reason);
      continue;
    }
    const target = await ensureMailbox(stores.index, user, plan.target, plan.specialUse);
    const files = await maildirMessages(f.dir);
    progress.planFolder(
      f.name,
      target,
      files.length,
      files.reduce((n, m) => n + m.size, 0),
    );
    work.push({ name: f.name, target, files });
  }
  progress.planned();
  for (const w of work) {
    progress.folderStarted(w.name);
    try {
      for (const m of w.files) {
        let bytes: Buffer;
        try {
          bytes = await readFile(m.file);
        } catch (err) {
          // Moved by a client since the listing (a flag change renames the file): the next run finds it.
          progress.failed(w.name, m.unique, `cannot read ${m.file}: ${(err as Error).message}`, m.size);
          continue;
        }
        const r = await writes.append(user, w.target, toCanonicalCrlf(bytes), {
          flags: m.flags,
          internalDate: m.mtime,
          deliveryKey: `import:${hash}:${w.name}:${m.unique}`,
        });
        if (r.duplicate) progress.present(w.name, bytes.length);
        else progress.copied(w.name, bytes.length);
      }
      progress.folderDone(w.name);
    } catch (err) {
      progress.folderDone(w.name, (err as Error).message);
    }
  }
  return progress.summary();
}
