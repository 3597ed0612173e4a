/**
 * JMAP errors, raised where they happen and carrying the type they become.
 *  - RequestError: the whole request fails (RFC 8620 §3.6.1), an RFC 7807 problem details
 *    object with HTTP 400 (or 413 for a too large body).
 *  - MethodError: one method call fails (§3.6.2); the response holds `["error", {type}, callId]`.
 */

export type RequestErrorType = 'unknownCapability' | 'notJSON' | 'notRequest' | 'limit';

export class RequestError extends Error {
  readonly type: RequestErrorType;
  readonly status: number;
  /** For `limit`: the name of the limit that was hit (e.g. maxCallsInRequest). */
  readonly limit: string | undefined;
  constructor(type: RequestErrorType, detail: string, options: { status?: number; limit?: string } = {}) {
    super(detail);
    this.name = 'RequestError';
    this.type = type;
    this.status = options.status ?? 400;
    this.limit = options.limit;
  }

  /** The RFC 7807 body. */
  problem(): Record<string, unknown> {
    const body: Record<string, unknown> = { type: `urn:ietf:params:jmap:error:${this.type}`, status: this.status, detail: this.message };
    if (this.limit) body.limit = this.limit;
    return body;
  }
}

export type MethodErrorType =
  | 'serverUnavailable'
  | 'serverFail'
  | 'serverPartialFail'
  | 'unknownMethod'
  | 'invalidArguments'
  | 'invalidResultReference'
  | 'forbidden'
  | 'accountNotFound'
  | 'accountNotSupportedByMethod'
  | 'fromAccountNotFound'
  | 'fromAccountNotSupportedByMethod'
  | 'accountReadOnly'
  | 'requestTooLarge'
  | 'cannotCalculateChanges'
  | 'stateMismatch'
  | 'anchorNotFound'
  | 'unsupportedSort'
  | 'unsupportedFilter'
  | 'tooManyChanges';

export class MethodError extends Error {
  readonly type: MethodErrorType;
  readonly extra: Record<string, unknown>;
  constructor(type: MethodErrorType, description?: string, extra: Record<string, unknown> = {}) {
    super(description ?? type);
    this.name = 'MethodError';
    this.type = type;
    this.extra = extra;
  }

  response(): Record<string, unknown> {
    return { type: this.type, ...(this.message !== this.type ? { description: this.message } : {}), ...this.extra };
  }
}

/** A SetError (RFC 8620 §5.3) for one record of a /set call. */
export interface SetError {
  type: string;
  description?: string;
  properties?: string[];
  [key: string]: unknown;
}

export function invalidArguments(description: string): MethodError {
  return new MethodError('invalidArguments', description);
}
