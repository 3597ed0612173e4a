/**
 * The reference for "what a POP3 client must receive", written independently of the server's
 * streaming encoder: the stored bytes with every bare LF turned into CRLF and a final CRLF
 * added when missing (a trailing bare CR is completed with LF).
 */
import { corpusFiles, type CorpusFile } from '../../support/corpus.ts';

export function expectedPop3Form(raw: Buffer): Buffer {
  let s = raw.toString('latin1').replace(/\r?\n/g, '\r\n');
  if (s.length && !s.endsWith('\r\n')) s += s.endsWith('\r') ? '\n' : '\r\n';
  return Buffer.from(s, 'latin1');
}

/** Removes byte-stuffing from CRLF lines (a leading '.' of each line dropped). */
export function unstuff(wire: Buffer): Buffer {
  return Buffer.from(
    wire
      .toString('latin1')
      .split('\r\n')
      .map((l) => (l.startsWith('.') ? l.slice(1) : l))
      .join('\r\n'),
    'latin1',
  );
}

/** `expectedPop3Form` with CRLF turned back into LF (what Unix clients write to disk). */
export function expectedLfForm(raw: Buffer): Buffer {
  return Buffer.from(expectedPop3Form(raw).toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

export type CorpusMessage = CorpusFile;

/**
 * Corpus messages sorted by name; `limit` picks an evenly spread subset that always includes
 * bare-LF, CRLF, no-final-newline and dot-leading-line messages. Empty when the corpus is absent
 * (outside CI; test/support/corpus.ts).
 */
export function corpusMessages(limit?: number): CorpusMessage[] {
  const all = corpusFiles();
  if (!limit || all.length <= limit) return all;
  const pick = new Map<string, CorpusMessage>();
  const want = (pred: (m: CorpusMessage) => boolean) => {
    const m = all.find((x) => pred(x) && !pick.has(x.name));
    if (m) pick.set(m.name, m);
  };
  const s = (m: CorpusMessage) => m.raw.toString('latin1');
  want((m) => /(^|[^\r])\n/.test(s(m)));
  want((m) => !/(^|[^\r])\n/.test(s(m)) && s(m).includes('\r\n'));
  want((m) => !s(m).endsWith('\n'));
  want((m) => /(^|\n)\./.test(s(m)));
  want((m) => /\r\n/.test(s(m)) && /(^|[^\r])\n/.test(s(m)));
  const step = all.length / limit;
  for (let i = 0; pick.size < limit && i < limit * 2; i++) {
    const m = all[Math.floor(i * step) % all.length];
    if (!pick.has(m.name)) pick.set(m.name, m);
  }
  return [...pick.values()].sort((a, b) => a.name.localeCompare(b.name));
}
