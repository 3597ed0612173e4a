/**
 * What ingest/APPEND learns from a message once, so that IMAP FETCH of ENVELOPE,
 * BODYSTRUCTURE, header fields and RFC822.SIZE reads only the index (docs/architecture.md,
 * "Data flow choices"). Offsets are byte offsets into the raw stored blob.
 */

/** RFC 3501 §7.4.2 address: `(name adl mailbox host)`. Strings are raw (encoded-words kept). */
export interface EnvelopeAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

/**
 * RFC 3501 §7.4.2 ENVELOPE. Strings are the raw, unfolded header values (not decoded);
 * address lists are null when the header is absent. Group syntax is represented as
 * RFC 3501 describes: a start marker {mailbox: groupName, host: null} and an end marker
 * {mailbox: null, host: null}.
 */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export interface MimeDisposition {
  type: string;
  params: Array<[string, string]>;
}

/** One node of the MIME tree (RFC 2045/2046), as IMAP BODYSTRUCTURE and BODY[section] need it. */
export interface MimePart {
  /** Offset of this part's header block (for the root: 0). */
  headerStart: number;
  /** Offset of this part's body: just after the blank line ending the header block. */
  bodyStart: number;
  /** Offset one past the body's last octet (the CRLF before a boundary belongs to the boundary). */
  bodyEnd: number;
  /** Lower-case media type and subtype, e.g. 'text', 'plain'. Defaults per RFC 2045 §5.2. */
  type: string;
  subtype: string;
  /** Content-Type parameters, names lower-case, values decoded per RFC 2231 when continued/encoded. */
  params: Array<[string, string]>;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as given (upper-cased), '7BIT' when absent. */
  encoding: string;
  /** Body size in octets (bodyEnd - bodyStart). */
  size: number;
  /** Number of lines of the body (for text/* and message/rfc822). */
  lines: number;
  md5: string | null;
  disposition: MimeDisposition | null;
  language: string[] | null;
  location: string | null;
  /** Sub-parts of a multipart/* (empty otherwise). */
  children: MimePart[];
  /** For message/rfc822 (and message/global): the enclosed message. */
  message: { envelope: Envelope; body: MimePart } | null;
}

export interface MessageMeta {
  envelope: Envelope;
  mime: MimePart;
  /** Total octets of the stored message. */
  size: number;
  /**
   * The raw top-level header block (including its terminating blank line) when it is at most
   * META_HEADER_LIMIT bytes, else null (then readers fetch [0, mime.bodyStart) from the blob).
   * Stored as latin1 so every byte round-trips.
   */
  header: string | null;
}

export const META_HEADER_LIMIT = 16 * 1024;
