/**
 * The ENVELOPE of a message as IMAP writes it (RFC 3501 §7.4.2, RFC 9051 §7.5.2 `envelope`),
 * computed once when the message is indexed, so that a FETCH of a message list (UID FLAGS
 * ENVELOPE RFC822.SIZE) copies it out of the index instead of decoding and encoding the
 * structure of every message (MailIndex.listEnvelopes, core/ports/mail-index.ts).
 *
 * The text is kept only when it is the same in every IMAP session: every string in it is
 * ASCII without NUL, CR or LF and at most 1024 octets long, so it goes as a quoted string
 * whether or not the session enabled UTF8=ACCEPT or IMAP4rev2 (RFC 9051 §4.3, RFC 6855 §3:
 * only 8-bit text is written differently then) and never as a literal. For any other envelope
 * there is no text (null) and the session writes the structure itself.
 *
 * It must read exactly as the session's own writer gives it (envelopeChunks in
 * fargate-listeners/src/imap/protocol/structure.ts): Sender and Reply-To fall back to From when
 * absent or empty, an empty address list is NIL, `"` and `\` are escaped. A test holds the two
 * together over the message corpus (test/mime/imap-envelope.test.ts).
 */
import type { Envelope, EnvelopeAddress } from './types.ts';

/** Longest string written quoted (fargate-listeners/src/imap/protocol/encode.ts MAX_QUOTED). */
const MAX_QUOTED = 1024;
const NEEDS_ESCAPE = /[\\"]/;

class NotPlain extends Error {}

/** ASCII but NUL, CR, LF: quoted the same in every session. */
function quotableAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x00 || c === 0x0a || c === 0x0d || c >= 0x80) return false;
  }
  return true;
}

function nstring(value: string | null): string {
  if (value === null) return 'NIL';
  if (value.length > MAX_QUOTED || !quotableAscii(value)) throw new NotPlain();
  return NEEDS_ESCAPE.test(value) ? '"' + value.replace(/[\\"]/g, (m) => '\\' + m) + '"' : '"' + value + '"';
}

function addressList(list: EnvelopeAddress[] | null): string {
  if (!list || list.length === 0) return 'NIL';
  let s = '(';
  for (const a of list) s += `(${nstring(a.name)} ${nstring(a.adl)} ${nstring(a.mailbox)} ${nstring(a.host)})`;
  return s + ')';
}

/** The envelope's IMAP text when it is the same in every session, else null (see the header). */
export function imapEnvelopeText(env: Envelope): string | null {
  try {
    const from = env.from && env.from.length > 0 ? env.from : null;
    const sender = env.sender && env.sender.length > 0 ? env.sender : from;
    const replyTo = env.replyTo && env.replyTo.length > 0 ? env.replyTo : from;
    return (
      `(${nstring(env.date)} ${nstring(env.subject)} ${addressList(from)} ${addressList(sender)} ${addressList(replyTo)} ` +
      `${addressList(env.to)} ${addressList(env.cc)} ${addressList(env.bcc)} ${nstring(env.inReplyTo)} ${nstring(env.messageId)})`
    );
  } catch (err) {
    if (err instanceof NotPlain) return null;
    throw err;
  }
}
