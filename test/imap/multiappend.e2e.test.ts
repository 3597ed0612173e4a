/**
 * MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all or none, answered with
 * APPENDUID and a uid-set (RFC 4315 §3); each message within APPENDLIMIT and all of them
 * together too (the limit one command may buffer). On the local and the aws (emulator) adapters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '#core/ports/blob-store.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const APPEND_LIMIT = 20_000;

describe.each(ADAPTER_KINDS)('MULTIAPPEND (%s adapters)', (kind) => {
  let sys: ImapTestSystem;
  /** appendMessage calls from now until the one that fails (0: none fails). */
  let failAppendAfter = 0;
  const blobsPut: string[] = [];
  const blobsDeleted: string[] = [];
  beforeAll(async () => {
    sys = await startImapSystem(kind, {
      limits: { maxAppendSize: APPEND_LIMIT },
      wrapAdapters: (adapters) => {
        const index = new Proxy(adapters.index, {
          get(target, prop, receiver) {
            const v = Reflect.get(target, prop, receiver) as unknown;
            if (prop !== 'appendMessage' || typeof v !== 'function') return v;
            return (...args: unknown[]) => {
              if (failAppendAfter > 0 && --failAppendAfter === 0) return Promise.reject(new Error('index write failed'));
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }) as MailIndex;
        const blobs = new Proxy(adapters.blobs, {
          get(target, prop, receiver) {
            const v = Reflect.get(target, prop, receiver) as unknown;
            if (typeof v !== 'function') return v;
            return (...args: unknown[]) => {
              if (prop === 'put') blobsPut.push(args[0] as string);
              if (prop === 'delete') blobsDeleted.push(args[0] as string);
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        }) as BlobStore;
        return { ...adapters, index, blobs };
      },
    });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  /** Sends an APPEND with synchronising literals, waiting for each `+`; returns the tagged line. */
  async function multiAppend(c: RawImap, mailbox: string, parts: Array<{ prefix?: string; raw: Buffer }>): Promise<string> {
    const tag = c.nextTag();
    let line = `${tag} APPEND ${mailbox}`;
    for (const p of parts) {
      c.write(`${line} ${p.prefix ? p.prefix + ' ' : ''}{${p.raw.length}}\r\n`);
      const go = await c.line();
      if (!go.startsWith('+')) return go;
      c.write(p.raw);
      line = '';
    }
    c.write('\r\n');
    return (await c.until(tag)).tagged;
  }

  const status = async (c: RawImap, mailbox: string) => (await c.command(`STATUS ${mailbox} (MESSAGES UIDNEXT)`)).untagged[0];

  it('stores every message, with its own flags and date, and answers APPENDUID with a uid-set (RFC 3502 §6.3.11, RFC 4315 §3)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await c.command('CAPABILITY')).untagged[0]).toMatch(/ MULTIAPPEND( |$)/);
    const m = [sampleMessage('one'), sampleMessage('two'), sampleMessage('three')];
    const tagged = await multiAppend(c, 'Archive', [
      { prefix: '(\\Seen)', raw: m[0] },
      { prefix: '(\\Flagged) "07-Feb-1994 21:52:25 -0800"', raw: m[1] },
      { raw: m[2] },
    ]);
    const v = /APPENDUID (\d+) 1:3\]/.exec(tagged);
    expect(v, tagged).not.toBeNull();
    const sel = await c.command('SELECT Archive');
    expect(sel.untagged).toContain('* 3 EXISTS');
    const f = await c.command('FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    expect(f.untagged[0]).toMatch(/FLAGS \(\\Seen( \\Recent)?\)/);
    // The date-time given for the second message, told in UTC.
    expect(f.untagged[1]).toMatch(/FLAGS \(\\Flagged( \\Recent)?\) INTERNALDATE " 8-Feb-1994 05:52:25 \+0000"/);
    expect(f.literals.map((l) => l.toString().trim())).toEqual(['Subject: one', 'Subject: two', 'Subject: three']);
    c.close();
  });

  it('LITERAL+ non-synchronising literals carry several messages in one write (RFC 3502, RFC 7888)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const a = sampleMessage('plus a');
    const b = sampleMessage('plus b');
    c.write(Buffer.concat([Buffer.from(`p1 APPEND Drafts {${a.length}+}\r\n`), a, Buffer.from(` (\\Draft) {${b.length}+}\r\n`), b, Buffer.from('\r\n')]));
    expect((await c.until('p1')).tagged).toMatch(/^p1 OK \[APPENDUID \d+ 1:2\] APPEND completed$/);
    expect(await status(c, 'Drafts')).toMatch(/MESSAGES 2 UIDNEXT 3/);
    c.close();
  });

  it('one bad message fails the whole command and none is stored (RFC 3502 §6.3.11)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const before = await status(c, 'Junk');
    // The second message is empty: NO, and the first is not kept either.
    expect(await multiAppend(c, 'Junk', [{ raw: sampleMessage('kept?') }, { raw: Buffer.alloc(0) }])).toMatch(
      /^T\d+ NO Empty message \(message 2; none was appended\)/,
    );
    expect(await status(c, 'Junk')).toBe(before);
    // A syntax error after the first message: BAD, nothing stored.
    const a = sampleMessage('syntax');
    c.write(Buffer.concat([Buffer.from(`s1 APPEND Junk {${a.length}+}\r\n`), a, Buffer.from(' (\\Seen) NIL\r\n')]));
    expect((await c.until('s1')).tagged).toMatch(/^s1 BAD .*literal/);
    expect(await status(c, 'Junk')).toBe(before);
    c.close();
  });

  it('a storage failure on a later message removes the earlier ones again: none is kept, no blob is left', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const before = await status(c, 'Sent');
    const putFrom = blobsPut.length;
    failAppendAfter = 3;
    const tagged = await multiAppend(c, 'Sent', [{ raw: sampleMessage('s1') }, { raw: sampleMessage('s2') }, { raw: sampleMessage('s3') }]);
    failAppendAfter = 0;
    expect(tagged).toMatch(/^T\d+ NO \[UNAVAILABLE\]/);
    expect((await status(c, 'Sent')).replace(/UIDNEXT \d+/, '')).toBe(before.replace(/UIDNEXT \d+/, ''));
    const put = blobsPut.slice(putFrom);
    expect(put).toHaveLength(3);
    expect(blobsDeleted).toEqual(expect.arrayContaining(put));
    for (const key of put) expect(await sys.ts.adapters.blobs.exists(key)).toBe(false);
    c.close();
  });

  it('messages over APPENDLIMIT together are NO [TOOBIG] at the literal that crosses it, unread, none stored (RFC 7889 §4)', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    const before = await status(c, 'Trash');
    const big = sampleMessage('big', 'x'.repeat(APPEND_LIMIT * 0.6) + '\r\n');
    const tagged = await multiAppend(c, 'Trash', [{ raw: big }, { raw: big }]);
    expect(tagged).toMatch(/^T\d+ NO \[TOOBIG\] Messages of one APPEND larger than 20000 octets together/);
    // The refused literal was not read: the next line is a new command.
    expect((await c.command('NOOP')).tagged).toMatch(/OK/);
    expect(await status(c, 'Trash')).toBe(before);
    c.close();
  });

  it('tells the session that has the mailbox selected of every new message', async () => {
    const c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('CREATE Multi');
    await c.command('SELECT Multi');
    const tag = c.nextTag();
    const a = sampleMessage('sel a');
    const b = sampleMessage('sel b');
    c.write(Buffer.concat([Buffer.from(`${tag} APPEND Multi {${a.length}+}\r\n`), a, Buffer.from(` {${b.length}+}\r\n`), b, Buffer.from('\r\n')]));
    const r = await c.until(tag);
    expect(r.untagged).toContain('* 2 EXISTS');
    expect(r.tagged).toMatch(/APPENDUID \d+ 1:2\]/);
    c.close();
  });
});
