/**
 * The junk filter end to end with real clients (issue 14): mail from the internet (Python's
 * smtplib at the MX, from an untrusted address) is scored by the recipient's model and
 * carries X-Spam-Score/X-Spam-Status; the user moves spam into Junk and a mistaken one back
 * out with imapflow (IMAP MOVE, RFC 6851), which trains the model; the next similar spam is
 * delivered to Junk, similar ham to INBOX, a sender's forged X-Spam-Status is gone, and GTUBE
 * goes to Junk whatever the score.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { junkModelsFor } from '#core/junk/model-store.ts';
import { modelStats } from '#core/junk/classifier.ts';
import { junkTrainingSettled } from '#core/junk/training.ts';
import { GTUBE } from '#listeners/smtp/trust/gtube.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { smtplibSend } from '../support/smtplib.ts';

const ALICE = 'alice@example.test';

let n = 0;
function spam(extra = ''): { subject: string; raw: Buffer } {
  const subject = `Cheap pills casino bonus ${++n}`;
  return {
    subject,
    raw: Buffer.from(
      `${extra}From: Deals <offers@sender.test>\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\nMessage-ID: <s${n}@sender.test>\r\n\r\n` +
        `Buy cheap pills now! Free casino bonus, limited offer, click http://pills.sender.test/buy to claim your prize. Unsubscribe here.\r\n`,
    ),
  };
}
function ham(): { subject: string; raw: Buffer } {
  const subject = `Minutes of the project meeting ${++n}`;
  return {
    subject,
    raw: Buffer.from(
      `From: Bob <bob@sender.test>\r\nTo: ${ALICE}\r\nSubject: ${subject}\r\nMessage-ID: <h${n}@sender.test>\r\n\r\n` +
        `Hi Alice, the minutes of Tuesday's meeting: the release schedule moves to next week; please review the budget spreadsheet before Friday. Thanks, Bob\r\n`,
    ),
  };
}

describe('junk filter: trained by IMAP MOVE, applied at the MX', () => {
  let dns: TestDnsServer;
  let sys: TestSystem;
  let imap: ImapFlow;
  beforeAll(async () => {
    dns = await startDnsServer();
    dns.set('sender.test', [{ type: 'TXT', text: 'v=spf1 ip4:127.0.0.1 -all' }]);
    sys = await startTestSystem({ env: { DNS_SERVERS: dns.server, DNS_TIMEOUT_MS: '400', DNS_TRIES: '1', SMTP_TRUSTED_NETWORKS: 'none' } });
    await sys.addUser(ALICE, 'alice-password');
    imap = new ImapFlow({
      host: '127.0.0.1',
      port: sys.port('imap'),
      secure: false,
      auth: { user: ALICE, pass: 'alice-password' },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await imap.connect();
  });
  afterAll(async () => {
    await imap?.logout().catch(() => {});
    await sys?.stop();
    await dns?.close();
  });

  const send = async (m: { raw: Buffer }) => {
    const r = await smtplibSend({ port: sys.port('smtp-mx'), from: 'offers@sender.test', to: [ALICE], data: m.raw, ehlo: 'mail.sender.test' });
    expect(r.outcome, JSON.stringify(r)).toEqual({ refused: {} });
  };
  /** The stored bytes of the message with this subject in `mailbox`, once delivered. */
  async function stored(mailbox: string, subject: string): Promise<string> {
    return eventually(async () => {
      const mb = await sys.adapters.index.getMailbox(ALICE, mailbox);
      const m = (await sys.adapters.index.listMessages(ALICE, mb!.id, { withMeta: true })).find((x) => x.meta?.envelope.subject === subject);
      return m ? (await sys.adapters.blobs.get(m.blobKey)).toString('latin1') : null;
    });
  }
  async function uidOf(subject: string): Promise<number> {
    const found = await imap.search({ subject }, { uid: true });
    expect(found, subject).toHaveLength(1);
    return (found as number[])[0];
  }

  it('scores a new user neutrally, learns from MOVE into and out of Junk, then files similar mail by itself', async () => {
    const spams = [spam(), spam(), spam(), spam()];
    const hams = [ham(), ham(), ham(), ham()];
    for (const m of [...spams, ...hams]) await send(m);
    // A new user's model knows nothing: 0.5, INBOX.
    const first = await stored('INBOX', spams[0].subject);
    expect(first).toMatch(/\r\nX-Spam-Score: 0\.5000\r\nX-Spam-Status: No, score=0\.5000, threshold=0\.90, tokens=0\r\n/);
    for (const m of hams) await stored('INBOX', m.subject);

    await imap.mailboxOpen('INBOX');
    for (const m of spams) await imap.messageMove(String(await uidOf(m.subject)), 'Junk', { uid: true });
    // A mistake, undone: ham moved to Junk and back out again trains it as ham in the end.
    await imap.messageMove(String(await uidOf(hams[0].subject)), 'Junk', { uid: true });
    await junkTrainingSettled();
    await imap.mailboxOpen('Junk');
    await imap.messageMove(String(await uidOf(hams[0].subject)), 'INBOX', { uid: true });
    await imap.mailboxOpen('INBOX');
    for (const m of hams.slice(1)) {
      await imap.messageMove(String(await uidOf(m.subject)), 'Archive', { uid: true }); // not out of Junk: trains nothing
    }
    await junkTrainingSettled();
    const model = await junkModelsFor(sys.adapters.blobs).update(ALICE, () => false);
    expect(modelStats(model)).toMatchObject({ spam: 4, ham: 1 });

    const next = spam('X-Spam-Status: No, score=0.0 (forged by the sender)\r\nX-Spam-Flag: NO\r\n');
    await send(next);
    const junked = await stored('Junk', next.subject);
    expect(junked).toMatch(/\r\nX-Spam-Status: Yes, score=(0\.9\d+|1\.0000), threshold=0\.90, tokens=\d+\r\n\t"/);
    expect(junked).not.toContain('forged by the sender');
    expect(junked).not.toMatch(/X-Spam-Flag/i);
    const good = ham();
    await send(good);
    expect(await stored('INBOX', good.subject)).toMatch(/\r\nX-Spam-Status: No, score=0\.[0-4]\d*, /);
    // GTUBE is spam whatever the model says: Junk, and the status says why.
    const gtube = ham();
    gtube.raw = Buffer.concat([gtube.raw, Buffer.from(`${GTUBE}\r\n`)]);
    await send(gtube);
    expect(await stored('Junk', gtube.subject)).toMatch(/\r\nX-Spam-Status: Yes, score=0\.\d+, threshold=0\.90, verdict="GTUBE", tokens=/);
  });
});
