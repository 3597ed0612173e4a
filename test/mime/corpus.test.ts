/**
 * indexMessage over the shared corpus of real-world messages (../shared/corpus, see its README;
 * override with MIME_CORPUS_DIR; found by test/support/corpus.ts: missing is a failure under CI).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { indexMessage } from '#core/mime/index-message.ts';
import { selectHeaderFields } from '#core/mime/header.ts';
import type { MimePart } from '#core/mime/types.ts';
import { corpusNames, corpusPath, describeWithCorpus } from '../support/corpus.ts';
import { checkInvariants } from './invariants.ts';

const files = corpusNames();

/** MANIFEST.tsv feature tags per file. */
function manifest(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const path = corpusPath('MANIFEST.tsv');
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n').slice(1)) {
    const cols = line.split('\t');
    if (cols.length >= 6) out.set(cols[0], cols[5].split(';'));
  }
  return out;
}

/** Non-multipart parts depth first; an enclosed message is followed by its own parts. */
function partTypes(p: MimePart, acc: string[] = []): string[] {
  if (p.type === 'multipart' && p.children.length > 0) {
    for (const c of p.children) partTypes(c, acc);
    return acc;
  }
  acc.push(`${p.type}/${p.subtype}`);
  if (p.message !== null) partTypes(p.message.body, acc);
  return acc;
}

const hasPython = spawnSync('python3', ['-c', 'import email'], { stdio: 'ignore' }).status === 0;

describeWithCorpus('corpus', () => {
  it('has the messages the README describes', () => {
    expect(files.length).toBeGreaterThanOrEqual(190);
  });

  it('indexes every message without throwing; offsets are monotone, in bounds and re-slice to header/body', () => {
    for (const f of files) {
      const raw = readFileSync(corpusPath(f));
      try {
        const meta = indexMessage(raw);
        checkInvariants(raw, meta, { reslice: true });
        for (const v of [meta.envelope.subject, meta.envelope.date, meta.envelope.messageId]) {
          if (v !== null) expect(v).not.toMatch(/[\r\n]/);
        }
        // The stored header answers HEADER.FIELDS: selecting Subject gives the field itself.
        const header = raw.subarray(0, meta.mime.bodyStart);
        const sel = selectHeaderFields(header, ['subject'], false).toString('latin1');
        if (meta.envelope.subject !== null) expect(sel).toMatch(/^subject[ \t]*:/i);
        else expect(sel).toMatch(/^\r?\n$/);
      } catch (e) {
        throw new Error(`${f}: ${(e as Error).message}`, { cause: e });
      }
    }
  });

  it('gives known structures for selected messages', () => {
    const meta = (f: string) => indexMessage(readFileSync(corpusPath(f)));
    // RFC 2046 digest example: parts without Content-Type are message/rfc822.
    const digest = meta('stalwart__rfc-004.eml').mime.children[1];
    expect(digest.subtype).toBe('digest');
    expect(digest.children.map((c) => `${c.type}/${c.subtype}`)).toEqual(['message/rfc822', 'message/rfc822']);
    expect(digest.children[0].message?.envelope.subject).toBe('my opinion');
    // RFC 2822 A.1.3 group syntax.
    const group = meta('mikel__rfc2822-example04.eml').envelope;
    expect(group.to?.[0]).toEqual({ name: null, adl: null, mailbox: 'A Group', host: null });
    expect(group.to?.at(-1)).toEqual({ name: null, adl: null, mailbox: null, host: null });
    expect(group.cc).toEqual([
      { name: null, adl: null, mailbox: 'Undisclosed recipients', host: null },
      { name: null, adl: null, mailbox: null, host: null },
    ]);
    // Missing final boundary: the last part runs to the end of the message.
    const raw = readFileSync(corpusPath('mimekit__multipart-no-end-boundary.eml'));
    const noEnd = indexMessage(raw).mime;
    expect(noEnd.children.at(-1)?.bodyEnd).toBe(raw.length);
  });

  it.skipIf(!hasPython)("has the same parts and content types as Python's email package (non-malformed files)", () => {
    const tags = manifest();
    const paths = files.map((f) => corpusPath(f));
    const py = spawnSync('python3', [join(import.meta.dirname, 'python-parts.py')], {
      input: paths.join('\n') + '\n',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(py.status).toBe(0);
    let compared = 0;
    let eligible = 0;
    for (const line of py.stdout.toString('utf8').trim().split('\n')) {
      const ref = JSON.parse(line) as { file: string; parts: string[]; defects: string[] };
      const name = ref.file.split('/').pop() as string;
      if ((tags.get(name) ?? []).includes('malformed')) continue;
      eligible++;
      // Python stops the header at the first line that is not a field; IMAP servers (and we)
      // read on to the blank line. Those files legitimately differ.
      if (ref.defects.includes('MissingHeaderBodySeparatorDefect')) continue;
      const ours = partTypes(indexMessage(readFileSync(ref.file)).mime);
      expect(ours, name).toEqual(ref.parts);
      compared++;
    }
    // Nearly every well-formed message takes part (129 of 193 at the time of writing).
    expect(compared).toBeGreaterThanOrEqual(Math.floor(eligible * 0.9));
    expect(compared).toBeGreaterThan(100);
  });
});
