/**
 * The limits this server advertises in `urn:ietf:params:jmap:core` (RFC 8620 §2) and enforces.
 * Each is checked where it applies: maxSizeRequest and maxCallsInRequest in the request
 * envelope (api.ts), maxConcurrentRequests per account (api.ts), maxObjectsInGet/InSet in
 * the /get and /set methods.
 */
export interface CoreLimits {
  maxSizeUpload: number;
  maxConcurrentUpload: number;
  maxSizeRequest: number;
  maxConcurrentRequests: number;
  maxCallsInRequest: number;
  maxObjectsInGet: number;
  maxObjectsInSet: number;
  collationAlgorithms: string[];
}

export function coreLimits(maxMessageSize: number): CoreLimits {
  return {
    // An upload becomes a message (Email/import): the same ceiling as SMTP's SIZE.
    maxSizeUpload: maxMessageSize,
    maxConcurrentUpload: 4,
    maxSizeRequest: 10_000_000,
    maxConcurrentRequests: 8,
    maxCallsInRequest: 64,
    maxObjectsInGet: 1000,
    maxObjectsInSet: 1000,
    collationAlgorithms: ['i;ascii-casemap', 'i;unicode-casemap'],
  };
}

/** Counts requests in progress per key and refuses past a ceiling (maxConcurrentRequests). */
export class ConcurrencyGate {
  private readonly active = new Map<string, number>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }

  /** A release function, or null when `key` already has `max` requests in progress. */
  enter(key: string): (() => void) | null {
    const n = this.active.get(key) ?? 0;
    if (n >= this.max) return null;
    this.active.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.active.get(key) ?? 1) - 1;
      if (left <= 0) this.active.delete(key);
      else this.active.set(key, left);
    };
  }
}
