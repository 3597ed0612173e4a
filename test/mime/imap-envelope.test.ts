/**
 * The ENVELOPE text the index keeps (core/mime/imap-envelope.ts) is what the session's own writer
 * (envelopeChunks) sends, in a session with UTF8=ACCEPT / IMAP4rev2 and in one without; where the
 * two would differ (8-bit text), none is kept.
 */
import { describe, expect, it } from 'vitest';
import { envelopeFromHeader } from '#core/mime/envelope.ts';
import { imapEnvelopeText } from '#core/mime/imap-envelope.ts';
import { indexMessage } from '#core/mime/index-message.ts';
import type { Envelope, MimePart } from '#core/mime/types.ts';
import { chunksToBuffer } from '#listeners/imap/protocol/encode.ts';
import { envelopeChunks } from '#listeners/imap/protocol/structure.ts';
import { corpusFiles, describeWithCorpus } from '../support/corpus.ts';

const hdr = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
const written = (env: Envelope, utf8: boolean): string => chunksToBuffer(envelopeChunks(env, { utf8 })).toString('latin1');

/** The kept text, checked against both sessions' writers; null when none is kept. */
function checked(env: Envelope): string | null {
  const text = imapEnvelopeText(env);
  if (text !== null) {
    expect(text).toBe(written(env, false));
    expect(text).toBe(written(env, true));
  }
  return text;
}

/** The envelopes of a message: the top level and every enclosed message/rfc822. */
function envelopesOf(part: MimePart, out: Envelope[]): Envelope[] {
  if (part.message) {
    out.push(part.message.envelope);
    envelopesOf(part.message.body, out);
  }
  for (const c of part.children) envelopesOf(c, out);
  return out;
}

describe('ENVELOPE text kept in the index (RFC 3501 §7.4.2, RFC 9051 §7.5.2)', () => {
  it('is the session writer`s text: Sender and Reply-To from From, NIL for absent fields, quoted-specials escaped', () => {
    const env = envelopeFromHeader(
      hdr('Date: Fri, 21 Nov 1997 09:55:06 -0600', 'From: "A \\"q\\" \\\\ b" <a@example.test>', 'Subject: tab\there', 'To: g: x@example.test, y@example.test;'),
    );
    expect(checked(env)).toBe(
      '("Fri, 21 Nov 1997 09:55:06 -0600" "tab\there" (("A \\"q\\" \\\\ b" NIL "a" "example.test")) (("A \\"q\\" \\\\ b" NIL "a" "example.test")) ' +
        '(("A \\"q\\" \\\\ b" NIL "a" "example.test")) ((NIL NIL "g" NIL)(NIL NIL "x" "example.test")(NIL NIL "y" "example.test")(NIL NIL NIL NIL)) NIL NIL NIL NIL)',
    );
  });

  it('is not kept for 8-bit text (RFC 6855 §3: quoted only with UTF8=ACCEPT, a literal without)', () => {
    for (const env of [envelopeFromHeader(hdr('Subject: café', 'From: a@example.test')), envelopeFromHeader(hdr('Subject: x', 'From: Zoë <z@example.test>'))]) {
      expect(written(env, false)).not.toBe(written(env, true));
      expect(imapEnvelopeText(env)).toBeNull();
    }
  });

  it('is kept up to 1024-octet strings; a longer one is a literal in every session, and none is kept', () => {
    expect(checked(envelopeFromHeader(hdr(`Subject: ${'s'.repeat(1024)}`)))).toContain(`"${'s'.repeat(1024)}"`);
    expect(imapEnvelopeText(envelopeFromHeader(hdr(`Subject: ${'s'.repeat(1025)}`)))).toBeNull();
  });
});

describeWithCorpus('ENVELOPE text kept in the index, over the corpus', () => {
  it('is both sessions` ENVELOPE for every envelope of every corpus message (top level and enclosed), or none is kept', () => {
    let kept = 0;
    let total = 0;
    for (const f of corpusFiles()) {
      const meta = indexMessage(f.raw);
      for (const env of envelopesOf(meta.mime, [meta.envelope])) {
        total++;
        if (checked(env) !== null) kept++;
      }
    }
    // Most real-world envelopes are ASCII (encoded-words): the fast path is the common one.
    expect(kept).toBeGreaterThan(total * 0.8);
  });
});
