/**
 * QUOTA (RFC 9208): one quota root "" per user with STORAGE (KiB) and MESSAGE where a limit is
 * set (`mailctl user quota`); GETQUOTAROOT, GETQUOTA, SETQUOTA refused (no IMAP administrators);
 * APPEND (MULTIAPPEND too) and COPY over a limit are NO [OVERQUOTA] and store nothing; MOVE
 * adds nothing and passes. Raw and with imapflow, on both adapters.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe.each(ADAPTER_KINDS)('QUOTA (%s adapters)', (kind) => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem(kind);
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });
  const setQuota = (storage: number | null, messages: number | null) => sys.ts.adapters.index.setQuota(sys.user, { storage, messages });
  const usage = async () => (await sys.ts.adapters.index.getQuota(sys.user))!.usage;

  it('advertises QUOTA, QUOTA=RES-STORAGE and QUOTA=RES-MESSAGE, not QUOTASET (RFC 9208 §3.1, §4.1.3)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const caps = (await c.command('CAPABILITY')).untagged[0];
    expect(caps).toMatch(/ QUOTA /);
    expect(caps).toContain('QUOTA=RES-STORAGE');
    expect(caps).toContain('QUOTA=RES-MESSAGE');
    expect(caps).not.toContain('QUOTASET');
    c.close();
  });

  it('GETQUOTAROOT names the root "" and its usage; GETQUOTA the same; no limits is an empty list (RFC 9208 §4.1.1, §4.1.2, §5)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await setQuota(null, null);
    const none = await c.command('GETQUOTAROOT INBOX');
    expect(none.untagged).toEqual(['* QUOTAROOT "INBOX" ""', '* QUOTA "" ()']);
    await sys.deliver(sampleMessage('usage', 'x'.repeat(3000) + '\r\n'));
    await setQuota(1024 * 1024, 100);
    const u = await usage();
    const r = await c.command('GETQUOTAROOT INBOX');
    expect(r.untagged).toEqual(['* QUOTAROOT "INBOX" ""', `* QUOTA "" (STORAGE ${Math.ceil(u.storage / 1024)} 1024 MESSAGE ${u.messages} 100)`]);
    expect(r.tagged).toMatch(/OK GETQUOTAROOT completed/);
    expect((await c.command('GETQUOTA ""')).untagged).toEqual([r.untagged[1]]);
    expect((await c.command('GETQUOTA "other"')).tagged).toMatch(/^T\d+ NO \[NONEXISTENT\]/);
    expect((await c.command('GETQUOTAROOT Nope')).tagged).toMatch(/^T\d+ NO \[NONEXISTENT\]/);
    expect((await c.command('SETQUOTA "" (STORAGE 10)')).tagged).toMatch(/^T\d+ NO \[NOPERM\]/);
    expect((await c.command('SETQUOTA "" STORAGE 10')).tagged).toMatch(/^T\d+ BAD/);
    expect((await c.command('GETQUOTA')).tagged).toMatch(/^T\d+ BAD/);
    c.close();
  });

  it('APPEND and MULTIAPPEND over the storage or message limit are NO [OVERQUOTA] and store nothing (RFC 9208 §4.3)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const u = await usage();
    const msg = sampleMessage('over');
    await setQuota(u.storage + msg.length - 1, null);
    const t = c.nextTag();
    c.write(`${t} APPEND Drafts {${msg.length}+}\r\n`);
    c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
    expect((await c.until(t)).tagged).toMatch(/^T\d+ NO \[OVERQUOTA\] Mailbox storage quota exceeded/);
    await setQuota(null, u.messages + 1);
    // Two messages where one fits: none is stored.
    const m = c.nextTag();
    c.write(Buffer.concat([Buffer.from(`${m} APPEND Drafts {${msg.length}+}\r\n`), msg, Buffer.from(` {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
    expect((await c.until(m)).tagged).toMatch(/^T\d+ NO \[OVERQUOTA\] Message count quota exceeded/);
    expect(await usage()).toEqual(u);
    // One fits.
    const ok = c.nextTag();
    c.write(Buffer.concat([Buffer.from(`${ok} APPEND Drafts {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
    expect((await c.until(ok)).tagged).toMatch(/OK \[APPENDUID/);
    c.close();
  });

  it('COPY over quota is NO [OVERQUOTA] and copies nothing; MOVE adds nothing and is allowed (RFC 9208 §4.3)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await setQuota(null, null);
    await sys.deliver(sampleMessage('to copy'));
    await c.command('SELECT INBOX');
    const u = await usage();
    await setQuota(u.storage, null);
    expect((await c.command('COPY 1 Archive')).tagged).toMatch(/^T\d+ NO \[OVERQUOTA\]/);
    expect(await usage()).toEqual(u);
    const moved = await c.command('MOVE 1 Archive');
    expect(moved.tagged).toMatch(/OK/);
    expect(await usage()).toEqual(u);
    c.close();
  });

  it('STATUS DELETED-STORAGE is what an EXPUNGE would free, in KiB (RFC 9208 §4.2.2)', async () => {
    await setQuota(null, null);
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('CREATE Reclaim');
    const a = sampleMessage('a', 'z'.repeat(5000) + '\r\n');
    const b = sampleMessage('b', 'z'.repeat(3000) + '\r\n');
    await sys.deliver(a, 'Reclaim', ['\\Deleted']);
    await sys.deliver(b, 'Reclaim');
    expect((await c.command('STATUS Reclaim (DELETED DELETED-STORAGE)')).untagged).toEqual([
      `* STATUS "Reclaim" (DELETED 1 DELETED-STORAGE ${Math.ceil(a.length / 1024)})`,
    ]);
    c.close();
  });

  it('imapflow reads the quota (getQuota) and sees the OVERQUOTA refusal of an APPEND', async () => {
    await setQuota(null, null);
    const u = await usage();
    await setQuota(u.storage + 10 * 1024, u.messages + 5);
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: sys.tlsPort,
      secure: true,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      const q = (await c.getQuota('INBOX')) as { storage?: { usage: number; limit: number }; message?: { usage: number; limit: number } };
      expect(q.storage).toMatchObject({ usage: Math.ceil(u.storage / 1024) * 1024, limit: u.storage + 10 * 1024 - ((u.storage + 10 * 1024) % 1024) });
      expect(q.message).toMatchObject({ usage: u.messages, limit: u.messages + 5 });
      await expect(c.append('INBOX', sampleMessage('big', 'y'.repeat(20_000) + '\r\n'))).rejects.toThrow();
      expect(await usage()).toEqual(u);
    } finally {
      await c.logout();
    }
  });
});
