/** Capability URIs (RFC 8620 §2, RFC 8621 §1.3). */
export const CORE = 'urn:ietf:params:jmap:core';
export const MAIL = 'urn:ietf:params:jmap:mail';
