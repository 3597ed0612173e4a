/**
 * The keys a new message is threaded by (core/mailbox/thread-keys.ts; the rules in
 * core/ports/mail-index.ts, "Threads"): msg-ids from Message-ID, In-Reply-To and References
 * (RFC 5322 §3.6.4), References bounded to the root and the nearest ancestors, and the base
 * subject of RFC 5256 §2.1 (RFC 8621 §3's second condition).
 */
import { describe, expect, it } from 'vitest';
import { indexMessage } from '#core/mime/index-message.ts';
import { boundedReferences, threadKeysOf } from '#core/mailbox/thread-keys.ts';
import { MAX_THREAD_REFERENCES } from '#core/ports/mail-index.ts';

const keysOf = (head: string) => {
  const raw = Buffer.from(head + '\r\n\r\nbody\r\n');
  return threadKeysOf(raw, indexMessage(raw));
};

describe('threadKeysOf', () => {
  it('takes the msg-ids without angle brackets or comments, and the base subject with Re:/[list] taken off', () => {
    const k = keysOf('Subject: Re: [team] Fwd: Plans\r\nMessage-ID: <m1@x> (ours)\r\nIn-Reply-To: <p@x> <q@x>\r\nReferences: <root@x>\r\n (a comment) <p@x>');
    expect(k).toEqual({ messageId: 'm1@x', inReplyTo: 'p@x', references: ['root@x', 'p@x'], subject: 'PLANS' });
  });

  it('a message without those fields has no ids and an empty base subject', () => {
    expect(keysOf('From: a@x')).toEqual({ messageId: null, inReplyTo: null, references: [], subject: '' });
  });

  it('keeps the root and the last ten of a long References list', () => {
    const refs = Array.from({ length: 40 }, (_, i) => `r${i}@x`);
    const k = keysOf(`Subject: s\r\nReferences: ${refs.map((r) => `<${r}>`).join('\r\n ')}`);
    expect(k.references).toHaveLength(MAX_THREAD_REFERENCES);
    expect(k.references).toEqual(['r0@x', ...refs.slice(30)]);
    expect(boundedReferences(['a', 'b'])).toEqual(['a', 'b']);
  });

  it('reads References from the bytes also when the header block is too large for the index (meta.header null)', () => {
    const big = `X-Filler: ${'y'.repeat(20_000)}\r\nSubject: s\r\nReferences: <deep@x>`;
    const raw = Buffer.from(big + '\r\n\r\nbody\r\n');
    const meta = indexMessage(raw);
    expect(meta.header).toBeNull();
    expect(threadKeysOf(raw, meta).references).toEqual(['deep@x']);
  });

  it('leaves out msg-ids over 500 bytes (they take no part in threading)', () => {
    expect(keysOf(`Message-ID: <${'a'.repeat(501)}@x>\r\nReferences: <ok@x>`)).toMatchObject({ messageId: null, references: ['ok@x'] });
  });
});
