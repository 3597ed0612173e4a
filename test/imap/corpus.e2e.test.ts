/**
 * Byte identity (invariant 5, docs/architecture.md): every file of the shared corpus, appended
 * over IMAP, comes back from BODY.PEEK[] as its CRLF form (APPEND stores bare LF and bare CR
 * as CRLF, docs/imap.md); delivered through the ports (bytes stored as they are, like a message stored
 * before canonical storage) it comes back identical. BODYSTRUCTURE, ENVELOPE and section
 * fetches of every file succeed, and BODY[n] equals the part's bytes.
 *
 * The one exception is NUL: a `{n}` literal carries CHAR8, which excludes NUL (RFC 9051 §9), so
 * the server sends each 0x00 of a stored message as 0x80 (as Dovecot does; the length stays).
 * The expected bytes are therefore the file with NUL → 0x80 — the identity for every file
 * without NUL, so those stay compared byte for byte.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { indexMessage } from '#core/mime/index-message.ts';
import { toCrlf } from '../support/message-bytes.ts';
import { corpusNames, corpusPath, describeWithCorpus } from '../support/corpus.ts';
import { RawImap } from './support/raw-client.ts';
import { startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const files = corpusNames();

/** What a `{n}` literal of these bytes carries: NUL → 0x80, nothing else changed. */
function onWire(raw: Buffer): Buffer {
  if (!raw.includes(0)) return raw;
  return Buffer.from(raw.map((b) => (b === 0 ? 0x80 : b)));
}

describeWithCorpus('corpus byte identity', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  const raws = files.map((f) => readFileSync(corpusPath(f)));
  const wire = raws.map(onWire);
  /** What APPEND stores and FETCH serves: the CRLF form (then NUL → 0x80 on the wire). */
  const crlfs = raws.map((r) => toCrlf(r));
  const crlfWire = crlfs.map(onWire);
  beforeAll(async () => {
    sys = await startImapSystem('local');
    c = await RawImap.login(sys.port, sys.user, sys.password);
  });
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  it('APPEND then BODY.PEEK[] returns every file as its CRLF form', async () => {
    for (let i = 0; i < raws.length; i++) {
      const raw = raws[i];
      const tag = c.nextTag();
      // Alternate synchronising literals and LITERAL+.
      if (i % 2 === 0) {
        c.write(`${tag} APPEND INBOX {${raw.length}}\r\n`);
        expect(await c.line()).toMatch(/^\+ /);
        c.write(Buffer.concat([raw, Buffer.from('\r\n')]));
      } else {
        c.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX {${raw.length}+}\r\n`), raw, Buffer.from('\r\n')]));
      }
      const r = await c.until(tag);
      expect(r.tagged, files[i]).toMatch(new RegExp(`^${tag} OK \\[APPENDUID \\d+ ${i + 1}\\]`));
    }
    expect((await c.command('SELECT INBOX')).untagged).toContain(`* ${raws.length} EXISTS`);
    const r = await c.command('UID FETCH 1:* (BODY.PEEK[])', 30_000);
    expect(r.tagged).toMatch(/OK/);
    expect(r.literals).toHaveLength(raws.length);
    const mismatched = files.filter((_, i) => !r.literals[i].equals(crlfWire[i]));
    expect(mismatched).toEqual([]);
    expect(r.literals.filter((l) => l.includes(0))).toEqual([]);
  });

  it('delivered messages (ingest path) come back unchanged too, in chunks via partial fetches', async () => {
    const sample = raws.filter((_, i) => i % 10 === 0);
    const sampleWire = wire.filter((_, i) => i % 10 === 0);
    const first = await sys.deliver(sample[0], 'Archive');
    for (const raw of sample.slice(1)) await sys.deliver(raw, 'Archive');
    expect((await c.command('SELECT Archive')).tagged).toMatch(/OK/);
    for (let i = 0; i < sample.length; i++) {
      const uid = first + i;
      const parts: Buffer[] = [];
      for (let off = 0; off < sample[i].length; off += 4096) {
        const r = await c.command(`UID FETCH ${uid} (BODY.PEEK[]<${off}.4096>)`);
        parts.push(r.literals[0]);
      }
      expect(Buffer.concat(parts).equals(sampleWire[i])).toBe(true);
    }
  });

  it('answers BODYSTRUCTURE, ENVELOPE and sections for every file; BODY[n] is the part bytes', async () => {
    expect((await c.command('SELECT INBOX')).tagged).toMatch(/OK/);
    const r = await c.command(
      'FETCH 1:* (BODYSTRUCTURE ENVELOPE BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[HEADER.FIELDS (Subject)])',
      30_000,
    );
    expect(r.tagged).toMatch(/ OK /);
    expect(r.untagged).toHaveLength(raws.length);
    // BODY[HEADER], BODY[TEXT], BODY[1] against the offsets the indexer found.
    for (let i = 0; i < raws.length; i++) {
      const meta = indexMessage(crlfs[i]);
      const p1 = meta.mime.type === 'multipart' ? meta.mime.children[0] : meta.mime;
      const one = await c.command(`FETCH ${i + 1} (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1])`);
      expect(one.tagged, files[i]).toMatch(/ OK /);
      const [header, text, part1] = one.literals;
      expect(header.equals(crlfWire[i].subarray(0, meta.mime.bodyStart)), files[i]).toBe(true);
      expect(text.equals(crlfWire[i].subarray(meta.mime.bodyStart)), files[i]).toBe(true);
      if (p1) expect(part1.equals(crlfWire[i].subarray(p1.bodyStart, p1.bodyEnd)), files[i]).toBe(true);
      else expect(one.untagged[0]).toMatch(/BODY\[1\] NIL\)$/);
    }
  });
});
