/**
 * imapflow (a client we did not write) against our server: list, append, fetch headers then
 * bodies, flags, search, copy, move, delete, IDLE notifications.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('imapflow against the IMAP server (local adapters)', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  const client = (secure = false) =>
    new ImapFlow({
      host: '127.0.0.1',
      port: secure ? sys.tlsPort : sys.port,
      secure,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });

  it('runs a full session over implicit TLS', async () => {
    const c = client(true);
    await c.connect();
    const boxes = await c.list();
    const byPath = new Map(boxes.map((b) => [b.path, b]));
    expect([...byPath.keys()].sort()).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    expect(byPath.get('Sent')!.specialUse).toBe('\\Sent');
    expect(byPath.get('Trash')!.specialUse).toBe('\\Trash');

    const raw1 = sampleMessage('First message', 'Body one\r\n');
    const raw2 = sampleMessage('Second message', 'Body two with needle\r\n');
    const a1 = await c.append('INBOX', raw1, ['\\Flagged']);
    const a2 = await c.append('INBOX', raw2);
    expect(a1 && a1.uid).toBe(1);
    expect(a2 && a2.uid).toBe(2);

    const lock = await c.getMailboxLock('INBOX');
    try {
      expect((c.mailbox as any).exists).toBe(2);
      // Headers first…
      const heads: any[] = [];
      for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, size: true, bodyStructure: true })) heads.push(m);
      expect(heads.map((m) => m.envelope.subject)).toEqual(['First message', 'Second message']);
      expect(heads[0].flags.has('\\Flagged')).toBe(true);
      expect(heads[0].size).toBe(raw1.length);
      expect(heads[0].bodyStructure.type).toBe('text/plain');
      // …then bodies, byte-exact.
      const full = await c.fetchOne('2', { source: true });
      expect(Buffer.compare((full as any).source, raw2)).toBe(0);

      expect(await c.search({ body: 'needle' })).toEqual([2]);
      expect(await c.search({ flagged: true })).toEqual([1]);

      await c.messageFlagsAdd('1', ['\\Seen', '$Important']);
      const f1 = await c.fetchOne('1', { flags: true });
      expect([...(f1 as any).flags].sort()).toEqual(['$Important', '\\Flagged', '\\Seen']);

      const copied = await c.messageCopy('1', 'Archive');
      expect(copied && copied.uidMap && [...copied.uidMap.entries()]).toEqual([[1, 1]]);
      const moved = await c.messageMove('2', 'Trash', { uid: true });
      expect(moved && moved.uidMap && [...moved.uidMap.entries()]).toEqual([[2, 1]]);
      expect((c.mailbox as any).exists).toBe(1);
      await c.messageDelete('1');
      expect((c.mailbox as any).exists).toBe(0);
    } finally {
      lock.release();
    }
    // Non-ASCII names (imapflow uses UTF8=ACCEPT when offered, modified UTF-7 otherwise).
    await c.mailboxCreate(['Projekte', 'Größe']);
    const names = (await c.list()).map((b) => b.path);
    expect(names).toContain('Projekte/Größe');
    expect(await sys.ts.adapters.index.getMailbox(sys.user, 'Projekte/Größe')).not.toBeNull();
    const st = (await c.status('Archive', { messages: true, uidNext: true, unseen: true })) as { messages: number; uidNext: number; unseen: number };
    expect(st.messages).toBe(1);
    expect(st.uidNext).toBe(2);
    expect(st.unseen).toBe(0);
    expect(await sys.uids('Trash')).toEqual([1]);
    expect(await sys.uids('INBOX')).toEqual([]);
    await c.logout();
  });

  it('hears of a message delivered while it idles (plain port, STARTTLS)', async () => {
    const c = client(false);
    await c.connect();
    await c.mailboxOpen('INBOX');
    const before = (c.mailbox as any).exists as number;
    const seen = new Promise<number>((resolve) => c.on('exists', (d: { count: number }) => resolve(d.count)));
    const idling = c.idle();
    await new Promise((r) => setTimeout(r, 100));
    await sys.deliver(sampleMessage('While idling'));
    expect(await seen).toBe(before + 1);
    await c.logout();
    await idling.catch(() => {});
  });
});
