/**
 * A second process on a local data directory: appends one message to a user's mailbox through
 * the mailbox write path (MailboxWrites, as the ingest job does) and exits. No change feed:
 * the commit to the index file is all other processes get.
 *
 *   node test/support/append-process.ts <dataDir> <user> <mailbox> <subject>
 */
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { silentLogger } from '#core/log.ts';
import { MailboxWrites } from '#core/mailbox/writes.ts';

const [dataDir, user, mailbox, subject] = process.argv.slice(2);
const adapters = await createLocalAdapters({ dataDir });
try {
  const raw = Buffer.from(`From: Bob <bob@example.test>\r\nTo: ${user}\r\nSubject: ${subject}\r\nMessage-ID: <${Date.now()}@example.test>\r\n\r\nHello.\r\n`);
  const result = await new MailboxWrites(adapters, { log: silentLogger }).append(user, mailbox, raw);
  process.stdout.write(`${JSON.stringify({ uid: result.uid })}\n`);
} finally {
  await adapters.close();
}
