/**
 * imapflow (a client we did not write) using CONDSTORE and QRESYNC (RFC 7162): its
 * `changedSince` fetch option and, with `qresync: true`, its quick resynchronisation on
 * reconnect after another session changed flags and expunged.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('imapflow with CONDSTORE/QRESYNC (RFC 7162)', () => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem('local');
  });
  afterAll(async () => {
    await sys?.stop();
  });

  const client = (qresync = false) =>
    new ImapFlow({
      host: '127.0.0.1',
      port: sys.port,
      secure: false,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      qresync,
      tls: { rejectUnauthorized: false },
    });

  it('fetches only the messages changed since a mod-sequence (changedSince, §3.1.4.1)', async () => {
    await sys.ts.adapters.index.createMailbox(sys.user, 'Flow', {});
    for (let i = 0; i < 5; i++) await sys.deliver(sampleMessage(`flow ${i}`), 'Flow');
    const c = client();
    await c.connect();
    try {
      expect(c.enabled.has('CONDSTORE')).toBe(true);
      const box = await c.mailboxOpen('Flow');
      const since = box.highestModseq!;
      expect(typeof since).toBe('bigint');
      // Another device flags two messages.
      const other = await RawImap.login(sys.port, sys.user, sys.password);
      await other.command('SELECT Flow');
      await other.command('UID STORE 2,4 +FLAGS (\\Flagged)');
      other.close();
      // imapflow also yields the unsolicited FETCH of the change told before the answer; by UID.
      const byUid = new Map<number, { uid: number; flags: string[]; modseq: bigint }>();
      for await (const m of c.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: since }))
        byUid.set(m.uid, { uid: m.uid, flags: [...(m.flags ?? [])], modseq: m.modseq! });
      const changed = [...byUid.values()].sort((a, b) => a.uid - b.uid);
      const mb = await sys.ts.adapters.index.getMailbox(sys.user, 'Flow');
      const stored = (await sys.ts.adapters.index.listMessages(sys.user, mb!.id)).filter((r) => r.modseq > Number(since));
      expect(changed).toEqual(stored.map((r) => ({ uid: r.uid, flags: ['\\Flagged'], modseq: BigInt(r.modseq) })));
      expect(changed.map((m) => m.uid)).toEqual([2, 4]);
      const status = await c.status('Flow', { highestModseq: true });
      expect(status && status.highestModseq).toBe(BigInt((await sys.ts.adapters.index.mailboxState(sys.user, mb!.id))!.highestModseq));
    } finally {
      await c.logout();
    }
  });

  it('reconnects with QRESYNC after another session changed flags and expunged, and hears exactly those changes (§3.2.5)', async () => {
    await sys.ts.adapters.index.createMailbox(sys.user, 'Sync', {});
    for (let i = 0; i < 6; i++) await sys.deliver(sampleMessage(`sync ${i}`), 'Sync');
    const first = client(true);
    await first.connect();
    expect(first.enabled.has('QRESYNC')).toBe(true);
    const box = await first.mailboxOpen('Sync');
    const { uidValidity, highestModseq } = box;
    await first.logout();

    // Meanwhile, on another device: UID 2 read, UIDs 4 and 5 deleted and expunged.
    const other = await RawImap.login(sys.port, sys.user, sys.password);
    await other.command('SELECT Sync');
    await other.command('UID STORE 2 +FLAGS (\\Seen)');
    await other.command('UID STORE 4,5 +FLAGS.SILENT (\\Deleted)');
    await other.command('EXPUNGE');
    other.close();

    const again = client(true);
    const expunged: Array<{ uid?: number; vanished?: boolean; earlier?: boolean }> = [];
    const flags: Array<{ uid?: number; flags: Set<string>; modseq?: bigint }> = [];
    again.on('expunge', (e) => expunged.push(e));
    again.on('flags', (e) => flags.push(e));
    await again.connect();
    try {
      const reopened = await again.mailboxOpen('Sync', { uidValidity, changedSince: highestModseq });
      expect((reopened as { qresync?: boolean }).qresync).toBe(true);
      expect(reopened.exists).toBe(4);
      expect(expunged.map((e) => [e.uid, e.vanished, e.earlier])).toEqual([
        [4, true, true],
        [5, true, true],
      ]);
      const mb = await sys.ts.adapters.index.getMailbox(sys.user, 'Sync');
      const [m2] = await sys.ts.adapters.index.getMessages(sys.user, mb!.id, [2]);
      expect(flags.map((f) => [f.uid, [...f.flags], f.modseq])).toEqual([[2, ['\\Seen'], BigInt(m2.modseq)]]);
      expect(reopened.highestModseq).toBe(BigInt((await sys.ts.adapters.index.mailboxState(sys.user, mb!.id))!.highestModseq));
    } finally {
      await again.logout();
    }
  });
});
