/**
 * FETCH (RFC 9051 §6.4.5): data items, sections and partials, BINARY, \Seen on BODY[],
 * index-only whole-mailbox fetches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '#core/ports/blob-store.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const MIXED = Buffer.from(
  [
    'From: Ann <ann@example.test>',
    'To: bob@example.test',
    'Subject: parts',
    'Date: Tue, 1 Jul 2003 10:52:37 +0200',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Caf=C3=A9 au lait',
    '--b1',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    'AAECAwQ=',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'From: inner@example.test',
    'Subject: inner',
    '',
    'inner body',
    '--b1--',
    '',
  ].join('\r\n'),
);

describe('FETCH', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    await sys.deliver(MIXED);
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
  });
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const lit = async (item: string) => {
    const r = await c.command(`FETCH 1 (${item})`);
    expect(r.tagged).toMatch(/ OK /);
    return r.literals[0].toString('latin1');
  };
  const slice = (from: string, to?: string) => {
    const s = MIXED.toString('latin1');
    const a = s.indexOf(from);
    return s.slice(a, to === undefined ? undefined : s.indexOf(to, a));
  };

  it('returns sections byte-exact: HEADER, TEXT, parts, MIME, nested message parts', async () => {
    expect(await lit('BODY.PEEK[HEADER]')).toBe(slice('From: Ann', '--b1'));
    expect(await lit('BODY.PEEK[TEXT]')).toBe(slice('--b1'));
    expect(await lit('BODY.PEEK[1]')).toBe('Caf=C3=A9 au lait');
    expect(await lit('BODY.PEEK[1.MIME]')).toBe('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n');
    expect(await lit('BODY.PEEK[2]')).toBe('AAECAwQ=');
    expect(await lit('BODY.PEEK[3]')).toBe('From: inner@example.test\r\nSubject: inner\r\n\r\ninner body');
    expect(await lit('BODY.PEEK[3.HEADER]')).toBe('From: inner@example.test\r\nSubject: inner\r\n\r\n');
    expect(await lit('BODY.PEEK[3.TEXT]')).toBe('inner body');
    expect(await lit('BODY.PEEK[3.1]')).toBe('inner body');
    expect(await lit('BODY.PEEK[HEADER.FIELDS (subject DATE)]')).toBe('Subject: parts\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\n');
    expect(await lit('BODY.PEEK[HEADER.FIELDS.NOT (From To Date MIME-Version Content-Type)]')).toBe('Subject: parts\r\n\r\n');
    expect(await lit('BODY.PEEK[3.HEADER.FIELDS (Subject)]')).toBe('Subject: inner\r\n\r\n');
    expect((await c.command('FETCH 1 (BODY.PEEK[9])')).untagged[0]).toBe('* 1 FETCH (BODY[9] NIL)');
    expect((await c.command('FETCH 1 (BODY.PEEK[1.TEXT])')).untagged[0]).toBe('* 1 FETCH (BODY[1.TEXT] NIL)');
  });

  it('answers partial fetches with the origin in the item name (RFC 9051 §6.4.5)', async () => {
    const r = await c.command('FETCH 1 (BODY.PEEK[]<6.3> BODY.PEEK[1]<5.100> BODY.PEEK[HEADER]<0.4> BODY.PEEK[]<99999.10>)');
    // (The test client shows literals inline, without the CRLF after {n}.)
    expect(r.untagged[0]).toBe('* 1 FETCH (BODY[]<6> {3}Ann BODY[1]<5> {12}3=A9 au lait BODY[HEADER]<0> {4}From BODY[]<99999> {0})');
  });

  it('decodes BINARY sections and reports BINARY.SIZE (RFC 3516)', async () => {
    const r = await c.command('FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[2] BINARY.SIZE[1])');
    expect(r.literals[0].toString('utf8')).toBe('Café au lait');
    expect([...r.literals[1]]).toEqual([0, 1, 2, 3, 4]);
    // NUL bytes go as literal8.
    expect(r.untagged[0]).toContain('BINARY[2] ~{5}');
    expect(r.untagged[0]).toMatch(/BINARY\.SIZE\[2\] 5 BINARY\.SIZE\[1\] 13\)$/);
  });

  it('answers ENVELOPE, BODY, BODYSTRUCTURE, RFC822.SIZE, INTERNALDATE, and the RFC822 forms', async () => {
    const r = await c.command('UID FETCH 1 (ENVELOPE RFC822.SIZE INTERNALDATE BODY)');
    expect(r.untagged[0]).toMatch(/^\* 1 FETCH \(UID 1 ENVELOPE \("Tue, 1 Jul 2003 10:52:37 \+0200" "parts" \(\("Ann" NIL "ann" "example.test"\)\)/);
    expect(r.untagged[0]).toContain(`RFC822.SIZE ${MIXED.length} INTERNALDATE "`);
    expect(r.untagged[0]).toMatch(/BODY \(\("text" "plain" \("charset" "utf-8"\) NIL NIL "QUOTED-PRINTABLE" 17 0\)/);
    expect(await lit('RFC822.HEADER')).toBe(slice('From: Ann', '--b1'));
    const flags0 = (await c.command('FETCH 1 FLAGS')).untagged[0];
    expect(flags0).not.toContain('\\Seen');
    expect(await lit('RFC822.TEXT')).toBe(slice('--b1'));
  });

  it('sets \\Seen on BODY[] (not on BODY.PEEK[]) and includes the new FLAGS (RFC 9051 §6.4.5)', async () => {
    await c.command('STORE 1 -FLAGS.SILENT (\\Seen)');
    const peek = await c.command('FETCH 1 (BODY.PEEK[1])');
    expect(peek.untagged[0]).not.toContain('FLAGS');
    const r = await c.command('FETCH 1 (BODY[1])');
    expect(r.untagged[0]).toMatch(/FLAGS \(.*\\Seen.*\)\)$/);
    const again = await c.command('FETCH 1 (BODY[1])');
    expect(again.untagged[0]).not.toContain('FLAGS');
    const ex = await RawImap.login(sys.port, sys.user, sys.password);
    await ex.command('EXAMINE INBOX');
    await c.command('STORE 1 -FLAGS.SILENT (\\Seen)');
    await ex.command('FETCH 1 BODY[]');
    expect((await c.command('FETCH 1 FLAGS')).untagged[0]).not.toContain('\\Seen');
    ex.close();
  });

  it('reads only the index for a whole-mailbox FETCH of metadata, and ranged blob reads for parts', async () => {
    for (let i = 0; i < 5; i++) await sys.deliver(MIXED);
    const blobs = sys.ts.adapters.blobs as BlobStore;
    const calls: string[] = [];
    const orig = { get: blobs.get, getRange: blobs.getRange, stream: blobs.stream };
    blobs.get = async (k) => (calls.push('get'), orig.get.call(blobs, k));
    blobs.getRange = async (k, a, b) => (calls.push(`range ${a}-${b}`), orig.getRange.call(blobs, k, a, b));
    blobs.stream = async (k) => (calls.push('stream'), orig.stream.call(blobs, k));
    try {
      const r = await c.command(
        'FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[HEADER])',
      );
      expect(r.untagged.filter((l) => l.includes('FETCH'))).toHaveLength(6);
      expect(calls).toEqual([]);
      await c.command('FETCH 2 (BODY.PEEK[2] BODY.PEEK[]<0.10>)');
      expect(calls).toHaveLength(2);
      expect(calls.every((x) => x.startsWith('range'))).toBe(true);
    } finally {
      Object.assign(blobs, orig);
    }
  });

  it('answers NO [UNAVAILABLE] when the blob store fails, and the session lives on', async () => {
    const blobs = sys.ts.adapters.blobs as BlobStore;
    const orig = blobs.get;
    blobs.get = async () => {
      throw new Error('blob store down');
    };
    try {
      const r = await c.command('FETCH 1 (BODY.PEEK[])');
      expect(r.tagged).toMatch(/NO \[UNAVAILABLE\]/);
    } finally {
      blobs.get = orig;
    }
    expect((await c.command('FETCH 1 (BODY.PEEK[])')).tagged).toMatch(/ OK /);
  });

  it('rejects bad sequence numbers with BAD and accepts * on an empty mailbox', async () => {
    await c.command('NOOP');
    const count = (await sys.uids()).length;
    expect((await c.command(`FETCH ${count + 1} FLAGS`)).tagged).toMatch(/BAD/);
    expect((await c.command('UID FETCH 999 FLAGS')).untagged).toEqual([]);
    await c.command('SELECT Drafts');
    expect((await c.command('FETCH 1:* FLAGS')).tagged).toMatch(/OK/);
  });

  it('sends NUL in BODY/RFC822 literals as 0x80, length unchanged; BINARY keeps it in literal8', async () => {
    // RFC 9051 §9: literal = "{" number64 ["+"] "}" CRLF *CHAR8, and CHAR8 excludes NUL.
    // Dovecot's answer, which we follow: each NUL goes as 0x80. BINARY (RFC 3516) may carry
    // NUL, as a literal8.
    const body = Buffer.from('line one\r\nnul:\0:here\0\0\r\n');
    const raw = Buffer.concat([sampleMessage('with NUL', ''), body]);
    await sys.deliver(raw, 'Trash');
    expect((await c.command('SELECT Trash')).tagged).toMatch(/OK/);
    const r = await c.command('FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT] BODY.PEEK[]<0.10000> BINARY.PEEK[1])');
    expect(r.tagged).toMatch(/ OK /);
    expect(r.untagged[0]).toContain(`RFC822.SIZE ${raw.length}`);
    const [whole, text, partial, binary] = r.literals;
    const expected = Buffer.from(raw.map((b) => (b === 0 ? 0x80 : b)));
    expect(whole.length).toBe(raw.length);
    expect(whole.includes(0)).toBe(false);
    expect(whole.equals(expected)).toBe(true);
    expect(text.equals(expected.subarray(raw.length - body.length))).toBe(true);
    expect(partial.equals(expected)).toBe(true);
    expect(binary.equals(body)).toBe(true);
    expect(r.untagged[0]).toContain(`BINARY[1] ~{${body.length}}`);
    const rfc822 = await c.command('FETCH 1 (RFC822)');
    expect(rfc822.literals[0].equals(expected)).toBe(true);
  });

  it('deletes transport-added white space at the end of quoted-printable lines in BINARY (RFC 2045 §6.7 rule 3)', async () => {
    // Line 1 ends in " \t" before CRLF (deleted); line 2 ends in "  =" (white space protected by a
    // soft line break, kept) followed by "= \t" white space after the '=' of another soft break.
    const body = 'trailing \t\r\nkept  =\r\nsoft=\t \r\nend \r\n';
    const raw = Buffer.concat([
      sampleMessage('qp', '', 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n'),
      Buffer.from(body),
    ]);
    await sys.deliver(raw, 'Archive');
    expect((await c.command('SELECT Archive')).tagged).toMatch(/OK/);
    const decoded = 'trailing\r\nkept  softend\r\n';
    const r = await c.command('FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1]<8.6>)');
    expect(r.tagged).toMatch(/ OK /);
    expect(r.literals[0].toString('latin1')).toBe(decoded);
    expect(r.untagged[0]).toContain(`BINARY.SIZE[1] ${decoded.length}`);
    // The partial is taken from the decoded bytes, so it is not shifted by the deleted white space.
    expect(r.literals[1].toString('latin1')).toBe(decoded.slice(8, 14));
  });
});
