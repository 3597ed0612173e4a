/**
 * Errors that carry the tagged reply they become (STYLE.md: "errors carry the protocol reply
 * they become … at the place they are raised").
 */
export type Status = 'OK' | 'NO' | 'BAD';

export interface Tagged {
  status: Status;
  /** Response code without brackets, e.g. 'TRYCREATE', 'APPENDUID 7 42'. */
  code?: string | null;
  text: string;
  /** Already written by the command (STARTTLS answers before the handshake). */
  silent?: boolean;
}

export class ImapError extends Error {
  readonly status: 'NO' | 'BAD';
  readonly code: string | null;
  constructor(status: 'NO' | 'BAD', code: string | null, text: string) {
    super(text);
    this.name = 'ImapError';
    this.status = status;
    this.code = code;
  }
}

export const no = (text: string, code: string | null = null) => new ImapError('NO', code, text);
export const bad = (text: string, code: string | null = null) => new ImapError('BAD', code, text);
export const ok = (text: string, code: string | null = null): Tagged => ({ status: 'OK', code, text });

/**
 * RFC 5530 EXPUNGEISSUED: a message the command needs was expunged by another session (RFC
 * 9051 §7.1). Not for a blob absent while the index still lists the message: that is
 * CORRUPTION (unreadable.ts).
 */
export const expungeIssued = (): Tagged => ({ status: 'NO', code: 'EXPUNGEISSUED', text: 'Some of the requested messages no longer exist' });
