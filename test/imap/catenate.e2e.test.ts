/**
 * CATENATE (RFC 4469): APPEND of a message made of TEXT literals and IMAP URLs (RFC 5092) to
 * the user's own messages and parts of them; BADURL and TOOBIG; all or nothing, with
 * MULTIAPPEND too. Raw sessions, the RFC's Appendix A example as the model. No client at hand
 * uses CATENATE (imapflow has no CATENATE; Python imaplib sends one literal per command, at
 * its end, so it cannot send TEXT parts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { RawImap, type Reply } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const APPEND_LIMIT = 20_000;
const BOUNDARY = '------------030308070208000400050907';

/** A draft as the RFC's example has it: a multipart message whose part 1 is text. */
const draft = Buffer.from(
  'From: Alice <alice@example.test>\r\nTo: Bob <bob@example.test>\r\nSubject: Draft with attachment\r\nMIME-Version: 1.0\r\n' +
    `Content-Type: multipart/mixed; boundary="${BOUNDARY}"\r\n\r\n` +
    `This is a multi-part message in MIME format.\r\n--${BOUNDARY}\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSee the attached message.\r\n` +
    `--${BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--${BOUNDARY}--\r\n`,
);

type Part = { url: string } | { text: string | Buffer; plus?: boolean };

/**
 * Sends `APPEND <mailbox> <opts> CATENATE (<parts>)` with synchronising literals (waiting for
 * each "+"), the parts of `more` as further messages (MULTIAPPEND); returns the tagged line.
 */
async function catenate(c: RawImap, mailbox: string, messages: Array<{ opts?: string; parts: Part[] }>): Promise<string> {
  const tag = c.nextTag();
  let line = `${tag} APPEND ${mailbox}`;
  for (const m of messages) {
    line += `${m.opts ? ' ' + m.opts : ''} CATENATE (`;
    // A text part ends the line with its literal announcement.
    for (const [i, p] of m.parts.entries()) {
      if (i > 0) line += ' ';
      if ('url' in p) {
        line += `URL "${p.url}"`;
        continue;
      }
      const bytes = Buffer.isBuffer(p.text) ? p.text : Buffer.from(p.text);
      if (p.plus) {
        c.write(Buffer.concat([Buffer.from(`${line}TEXT {${bytes.length}+}\r\n`), bytes]));
      } else {
        c.write(`${line}TEXT {${bytes.length}}\r\n`);
        const go = await c.line();
        if (!go.startsWith('+')) return go;
        c.write(bytes);
      }
      line = '';
    }
    line += ')';
  }
  c.write(`${line}\r\n`);
  return (await c.until(tag)).tagged;
}

const literalOf = (r: Reply) => r.literals[0];

describe.each(ADAPTER_KINDS)('CATENATE (RFC 4469; %s adapters)', (kind) => {
  let sys: ImapTestSystem;
  let c: RawImap;
  let draftsValidity: number;
  let inboxValidity: number;
  const other = `other-${Math.random().toString(36).slice(2, 8)}@example.test`;

  beforeAll(async () => {
    sys = await startImapSystem(kind, { limits: { maxAppendSize: APPEND_LIMIT } });
    await sys.deliver(draft, 'Drafts'); // Drafts UID 1
    await sys.deliver(sampleMessage('forwarded', 'The forwarded text.\r\n'), 'INBOX'); // INBOX UID 1
    await sys.deliver(sampleMessage('big', 'x'.repeat(12_000) + '\r\n'), 'INBOX'); // INBOX UID 2
    await sys.ts.addUser(other, 'other pass');
    c = await RawImap.login(sys.port, sys.user, sys.password);
    const st = (await c.command('STATUS Drafts (UIDVALIDITY)')).untagged[0];
    draftsValidity = Number(/UIDVALIDITY (\d+)/.exec(st)![1]);
    inboxValidity = Number(/UIDVALIDITY (\d+)/.exec((await c.command('STATUS INBOX (UIDVALIDITY)')).untagged[0])![1]);
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const status = async (mailbox: string) => (await c.command(`STATUS ${mailbox} (MESSAGES UIDNEXT)`)).untagged[0];
  const fetchBody = async (mailbox: string, uid: number, section = '') => {
    await c.command(`EXAMINE ${mailbox}`);
    return literalOf(await c.command(`UID FETCH ${uid} BODY.PEEK[${section}]`));
  };

  it('RFC 4469 §2: CATENATE is advertised once authenticated', async () => {
    expect((await c.command('CAPABILITY')).untagged[0]).toMatch(/ CATENATE( |$)/);
  });

  it('RFC 4469 Appendix A: a draft rebuilt from its HEADER, 1.MIME and 1, TEXT literals and a whole message, byte for byte', async () => {
    const d = `/Drafts;UIDVALIDITY=${draftsValidity}/;UID=1`;
    const sep = `\r\n--${BOUNDARY}\r\n`;
    const tagged = await catenate(c, 'Drafts', [
      {
        opts: '(\\Seen \\Draft $MDNSent)',
        parts: [
          { url: `${d}/;section=HEADER` },
          { text: sep },
          { url: `${d}/;section=1.MIME` },
          { url: `${d}/;section=1` },
          { text: `${sep}Content-Type: message/rfc822\r\n\r\n` },
          { url: `/INBOX;UIDVALIDITY=${inboxValidity}/;UID=1` },
          { text: `\r\n--${BOUNDARY}--\r\n` },
        ],
      },
    ]);
    expect(tagged).toMatch(new RegExp(`^T\\d+ OK \\[APPENDUID ${draftsValidity} 2\\] `));
    const header = await fetchBody('Drafts', 1, 'HEADER');
    const mime = literalOf(await c.command('UID FETCH 1 BODY.PEEK[1.MIME]'));
    const part1 = literalOf(await c.command('UID FETCH 1 BODY.PEEK[1]'));
    const forwarded = await fetchBody('INBOX', 1);
    const expected = Buffer.concat([
      header,
      Buffer.from(sep),
      mime,
      part1,
      Buffer.from(`${sep}Content-Type: message/rfc822\r\n\r\n`),
      forwarded,
      Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
    ]);
    expect(await fetchBody('Drafts', 2)).toEqual(expected);
    const f = await c.command('UID FETCH 2 (FLAGS BODYSTRUCTURE)');
    const flags = /FLAGS \(([^)]*)\)/.exec(f.untagged[0])![1].split(' ');
    expect(flags).toEqual(expect.arrayContaining(['\\Seen', '\\Draft', '$MDNSent']));
    expect(f.untagged[0]).toMatch(/BODYSTRUCTURE \(\("text" "plain" .*\)\("message" "rfc822" .*"forwarded"/i);
    // RFC 4469 §3: the parts used are not marked \Seen.
    await c.command('EXAMINE INBOX');
    expect((await c.command('UID FETCH 1 FLAGS')).untagged[0]).not.toMatch(/\\Seen/);
  });

  it('RFC 5092 sections: TEXT, HEADER.FIELDS (percent-encoded), PARTIAL; INBOX in any case; URL parts alone', async () => {
    const u = `/inbox;uidvalidity=${inboxValidity}/;uid=1`;
    const tagged = await catenate(c, 'INBOX', [
      { parts: [{ url: `${u}/;SECTION=HEADER.FIELDS%20(Subject%20From)` }, { text: '\r\n' }, { url: `${u}/;SECTION=TEXT/;PARTIAL=4.9` }] },
    ]);
    expect(tagged).toMatch(/ OK \[APPENDUID \d+ 3\] /);
    expect((await fetchBody('INBOX', 3)).toString()).toBe('From: Bob <bob@example.test>\r\nSubject: forwarded\r\n\r\n\r\nforwarded');
    // Without UIDVALIDITY, and only URLs (no literal at all).
    const t2 = await catenate(c, 'Drafts', [{ parts: [{ url: '/INBOX/;UID=1/;SECTION=HEADER' }, { url: '/INBOX/;UID=1/;SECTION=TEXT' }] }]);
    expect(t2).toMatch(/ OK \[APPENDUID \d+ 3\] /);
    expect(await fetchBody('Drafts', 3)).toEqual(await fetchBody('INBOX', 1));
  });

  it('a mailbox name is percent-encoded UTF-8 (RFC 5092 §3.2)', async () => {
    await c.command('CREATE "Entw&APw-rfe"');
    await sys.deliver(sampleMessage('umlaut'), 'Entwürfe');
    const tagged = await catenate(c, 'Drafts', [{ parts: [{ url: '/Entw%C3%BCrfe/;UID=1' }] }]);
    expect(tagged).toMatch(/ OK \[APPENDUID /);
  });

  it('RFC 4469 §4.1: NO [BADURL <first failing URL>] for a missing message, part or mailbox, a stale UIDVALIDITY, bad syntax; nothing is stored', async () => {
    const before = await status('Drafts');
    const bad = [
      `/INBOX;UIDVALIDITY=${inboxValidity}/;UID=99`,
      `/INBOX;UIDVALIDITY=${inboxValidity + 1}/;UID=1`,
      `/INBOX/;UID=1/;SECTION=9`,
      `/INBOX/;UID=1/;SECTION=1.HEADER`,
      `/Nonexistent/;UID=1`,
      `/INBOX`,
      `/INBOX/;UID=0`,
      `/INBOX/;UID=1/;SECTION=BOGUS`,
      `/INBOX/;UID=1/;PARTIAL=x`,
      `;UID=1`,
    ];
    for (const url of bad) {
      const tagged = await catenate(c, 'Drafts', [{ parts: [{ text: 'Subject: x\r\n\r\n' }, { url }, { text: 'tail' }] }]);
      expect(tagged, url).toMatch(new RegExp(`^T\\d+ NO \\[BADURL ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\] `));
    }
    // The first URL that fails is the one named.
    const two = await catenate(c, 'Drafts', [{ parts: [{ url: '/INBOX/;UID=1' }, { url: '/INBOX/;UID=77' }, { url: '/INBOX/;UID=88' }] }]);
    expect(two).toMatch(/ NO \[BADURL \/INBOX\/;UID=77\] /);
    expect(await status('Drafts')).toBe(before);
  });

  it('RFC 4469 §3, §4.1: a URL to another user, an absolute or a URLAUTH URL is BADURL, with no hint whether it exists', async () => {
    // The other user has an INBOX with message 1; the answers are those for a name that exists nowhere.
    const o = await RawImap.login(sys.port, other, 'other pass');
    o.write(`o1 APPEND INBOX {${sampleMessage('secret').length}+}\r\n`);
    o.write(Buffer.concat([sampleMessage('secret'), Buffer.from('\r\n')]));
    expect((await o.until('o1')).tagged).toMatch(/ OK /);
    o.close();
    const answer = async (url: string) => (await catenate(c, 'Drafts', [{ parts: [{ url }] }])).replace(/^T\d+ /, '').replace(url, '<url>');
    const missing = await answer('/~nobody/INBOX/;UID=1');
    expect(missing).toMatch(/^NO \[BADURL <url>\] /);
    for (const url of [`/~${other}/INBOX/;UID=1`, `/user/${other}/INBOX/;UID=1`, `/Other Users/${other}/INBOX/;UID=1`]) {
      expect(await answer(url.replace(/ /g, '%20'))).toBe(missing);
    }
    const absolute = await answer(`imap://${encodeURIComponent(other)}@mx.test/INBOX/;UID=1`);
    expect(absolute).toMatch(/^NO \[BADURL <url>\] /);
    expect(await answer(`imap://${encodeURIComponent(other)}@mx.test/Nonexistent/;UID=1`)).toBe(absolute);
    expect(await answer(`imap://${encodeURIComponent(sys.user)}@mx.test/INBOX/;UID=1`)).toBe(absolute);
    expect(await answer('/INBOX/;UID=1;URLAUTH=anonymous:internal:0123456789abcdef')).toMatch(/^NO \[BADURL <url>\] /);
  }, 20_000); // ten CATENATEs in turn, each a few index reads (on the emulator too)

  it('RFC 4469 §4.1: the URL in BADURL never holds "]" or control characters (url-resp-text)', async () => {
    const tagged = await catenate(c, 'Drafts', [{ parts: [{ url: '/IN]BOX/;UID=1' }] }]);
    expect(tagged).toMatch(/ NO \[BADURL \/IN%5DBOX\/;UID=1\] /);
  });

  it('RFC 4469 §3 with MULTIAPPEND (RFC 3502): all messages or none', async () => {
    const before = await status('Drafts');
    const failed = await catenate(c, 'Drafts', [
      { opts: '(\\Flagged)', parts: [{ url: '/INBOX/;UID=1' }] },
      { parts: [{ text: 'Subject: second\r\n\r\n' }, { url: '/INBOX/;UID=404' }] },
    ]);
    expect(failed).toMatch(/ NO \[BADURL \/INBOX\/;UID=404\] .*message 2; none was appended/);
    expect(await status('Drafts')).toBe(before);
    const uidNext = Number(/UIDNEXT (\d+)/.exec(before)![1]);
    const stored = await catenate(c, 'Drafts', [
      { opts: '(\\Flagged)', parts: [{ url: '/INBOX/;UID=1' }] },
      { parts: [{ text: 'Subject: second\r\n\r\nbody\r\n', plus: true }] },
    ]);
    expect(stored).toMatch(new RegExp(`OK \\[APPENDUID \\d+ ${uidNext}:${uidNext + 1}\\] `));
    expect((await fetchBody('Drafts', uidNext + 1)).toString()).toBe('Subject: second\r\n\r\nbody\r\n');
  });

  it('RFC 4469 §4.2, RFC 7889: NO [TOOBIG] when the parts together pass APPENDLIMIT, before anything is stored', async () => {
    const before = await status('Drafts');
    // INBOX UID 2 is about 12 kB: twice is over the 20 kB limit.
    expect(await catenate(c, 'Drafts', [{ parts: [{ url: '/INBOX/;UID=2' }, { url: '/INBOX/;UID=2' }] }])).toMatch(/ NO \[TOOBIG\] /);
    // With MULTIAPPEND the messages of one APPEND count together.
    expect(await catenate(c, 'Drafts', [{ parts: [{ url: '/INBOX/;UID=2' }] }, { parts: [{ url: '/INBOX/;UID=2' }] }])).toMatch(/ NO \[TOOBIG\] /);
    expect(await catenate(c, 'Drafts', [{ parts: [{ text: 'y'.repeat(9_000) }, { url: '/INBOX/;UID=2' }] }])).toMatch(/ NO \[TOOBIG\] /);
    expect(await status('Drafts')).toBe(before);
    expect(await catenate(c, 'Drafts', [{ parts: [{ url: '/INBOX/;UID=2' }, { text: 'z' }] }])).toMatch(/ OK /);
  });

  it('RFC 7889 §4: a TEXT literal over APPENDLIMIT is refused at its announcement, nothing read (memory stays bounded)', async () => {
    const before = await status('Drafts');
    const tag = c.nextTag();
    c.write(`${tag} APPEND Drafts CATENATE (URL "/INBOX/;UID=1" TEXT {${APPEND_LIMIT + 1}}\r\n`);
    expect(await c.line()).toMatch(new RegExp(`^${tag} NO \\[TOOBIG\\] `));
    // Several TEXT literals count together.
    const t2 = c.nextTag();
    c.write(`${t2} APPEND Drafts CATENATE (TEXT {12000}\r\n`);
    expect(await c.line()).toMatch(/^\+/);
    c.write('a'.repeat(12_000));
    c.write(` TEXT {12000}\r\n`);
    expect(await c.line()).toMatch(new RegExp(`^${t2} NO \\[TOOBIG\\] `));
    expect((await c.command('NOOP')).tagged).toMatch(/ OK /);
    expect(await status('Drafts')).toBe(before);
  });

  it('bad CATENATE syntax is BAD and an empty result is NO; the session goes on', async () => {
    for (const cmd of [
      'APPEND Drafts CATENATE ()',
      'APPEND Drafts CATENATE (FOO "x")',
      'APPEND Drafts CATENATE (URL)',
      'APPEND Drafts CATENATE (URL "/INBOX/;UID=1"',
      'APPEND Drafts CATENATE (TEXT "abc")',
      'APPEND Drafts CATENATE URL "/INBOX/;UID=1"',
    ]) {
      expect((await c.command(cmd)).tagged, cmd).toMatch(/^T\d+ BAD /);
    }
    expect(await catenate(c, 'Drafts', [{ parts: [{ text: '' }] }])).toMatch(/ NO .*Empty message/);
    expect(await catenate(c, 'Nonexistent', [{ parts: [{ url: '/INBOX/;UID=1' }] }])).toMatch(/ NO \[TRYCREATE\] /);
    expect((await c.command('NOOP')).tagged).toMatch(/ OK /);
  });

  it('RFC 6855 §4: a UTF8 (literal8) part needs UTF8=ACCEPT; then its octets are stored as sent', async () => {
    const text = Buffer.from('Subject: Grüße\r\n\r\nHallo\r\n');
    const send = async (cc: RawImap) => {
      const tag = cc.nextTag();
      cc.write(Buffer.concat([Buffer.from(`${tag} APPEND Drafts CATENATE (UTF8 (~{${text.length}+}\r\n`), text, Buffer.from('))\r\n')]));
      return (await cc.until(tag)).tagged;
    };
    expect(await send(c)).toMatch(/^T\d+ BAD .*UTF8=ACCEPT/);
    const u = await RawImap.login(sys.port, sys.user, sys.password);
    await u.command('ENABLE UTF8=ACCEPT');
    const tagged = await send(u);
    expect(tagged).toMatch(/ OK \[APPENDUID \d+ (\d+)\] /);
    const uid = Number(/APPENDUID \d+ (\d+)/.exec(tagged)![1]);
    u.close();
    expect(await fetchBody('Drafts', uid)).toEqual(text);
  });
});
