/**
 * FETCH PREVIEW (RFC 8970): up to 256 characters of the message's first text part, HTML
 * stripped, whitespace collapsed — the same text JMAP gives as Email preview; PREVIEW (LAZY)
 * may answer NIL when the message is not read anyway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap } from './support/raw-client.ts';
import { startImapSystem, type ImapTestSystem } from './support/imap-system.ts';
import { parse } from './support/parse.ts';

const head = (subject: string, type: string) =>
  `From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: ${subject}\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMIME-Version: 1.0\r\nContent-Type: ${type}\r\n`;

describe('PREVIEW (RFC 8970)', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    await sys.deliver(Buffer.from(head('plain', 'text/plain; charset=us-ascii') + '\r\nHello   there,\r\n\r\n  this is "the" text.\r\n'));
    await sys.deliver(
      Buffer.from(
        head('alternative', 'multipart/alternative; boundary=b') +
          '\r\n--b\r\nContent-Type: text/html\r\n\r\n<html><style>p{}</style><p>HTML &amp; <b>bold</b></p></html>\r\n--b--\r\n',
      ),
    );
    await sys.deliver(Buffer.from(head('long', 'text/plain') + '\r\n' + 'word '.repeat(100) + '\r\n'));
    await sys.deliver(
      Buffer.from(head('utf8', 'text/plain; charset=utf-8') + 'Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n'),
    );
    await sys.deliver(Buffer.from(head('empty', 'image/png') + 'Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n'));
    c = await RawImap.login(sys.port, sys.user, sys.password);
    await c.command('SELECT INBOX');
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  it('is advertised once authenticated (RFC 8970 §2)', async () => {
    expect((await c.command('CAPABILITY')).untagged[0]).toMatch(/ PREVIEW( |$)/);
  });

  it('gives the text part with whitespace collapsed, quoted with escapes (RFC 8970 §3.1)', async () => {
    const r = await c.command('FETCH 1 (PREVIEW)');
    expect(r.untagged).toEqual(['* 1 FETCH (PREVIEW "Hello there, this is \\"the\\" text.")']);
  });

  it('strips HTML (style blocks included) when the only text is HTML', async () => {
    expect((await c.command('FETCH 2 PREVIEW')).untagged).toEqual(['* 2 FETCH (PREVIEW "HTML & bold")']);
  });

  it('is at most 256 characters (RFC 8970 §3.1)', async () => {
    const r = await c.command('FETCH 3 (UID PREVIEW)');
    const m = /PREVIEW "([^"]*)"/.exec(r.untagged[0]);
    expect(m![1]).toHaveLength(256);
    expect(m![1]).toBe('word '.repeat(100).slice(0, 256));
  });

  it('non-ASCII text is decoded and sent as a literal to a client without UTF-8, quoted once UTF8=ACCEPT is on', async () => {
    const r = await c.command('FETCH 4 (PREVIEW)');
    expect(r.literals.map((l) => l.toString('utf8'))).toEqual(['Grüße aus Köln']);
    const u = await RawImap.login(sys.port, sys.user, sys.password);
    await u.command('ENABLE UTF8=ACCEPT');
    await u.command('EXAMINE INBOX');
    const q = await u.command('FETCH 4 (PREVIEW)');
    expect(q.literals).toEqual([]);
    expect(Buffer.from(q.untagged[0], 'latin1').toString('utf8')).toBe('* 4 FETCH (PREVIEW "Grüße aus Köln")');
    u.close();
  });

  it('a message without any text part has an empty preview, not NIL (RFC 8970 §3.1)', async () => {
    expect((await c.command('FETCH 5 (PREVIEW)')).untagged).toEqual(['* 5 FETCH (PREVIEW "")']);
  });

  it('PREVIEW (LAZY) is NIL unless the message is read anyway; then it is the text (RFC 8970 §3.1)', async () => {
    const lazy = await c.command('FETCH 1:2 (UID PREVIEW (LAZY))');
    expect(lazy.untagged).toEqual(['* 1 FETCH (UID 1 PREVIEW NIL)', '* 2 FETCH (UID 2 PREVIEW NIL)']);
    const withBody = await c.command('FETCH 2 (PREVIEW (LAZY) BODY.PEEK[])');
    expect(withBody.untagged[0]).toMatch(/^\* 2 FETCH \(PREVIEW "HTML & bold" BODY\[\] \{\d+\}/);
  });

  it('unknown modifiers and bad syntax are BAD (RFC 8970 §7)', async () => {
    expect((await c.command('FETCH 1 (PREVIEW (FUZZY))')).tagged).toMatch(/^T\d+ BAD Unknown PREVIEW modifier FUZZY/);
    expect((await c.command('FETCH 1 (PREVIEW ())')).tagged).toMatch(/^T\d+ BAD/);
    expect(parse('a FETCH 1 (PREVIEW (LAZY LAZY) FLAGS)')).toMatchObject({ ok: true, request: { items: [{ k: 'PREVIEW', lazy: true }, { k: 'FLAGS' }] } });
  });
});
