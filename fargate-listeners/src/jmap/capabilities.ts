/** Capability URIs (RFC 8620 §2, RFC 8621 §1.3, RFC 9610 §1.4.1). */
export const CORE = 'urn:ietf:params:jmap:core';
export const MAIL = 'urn:ietf:params:jmap:mail';
export const SUBMISSION = 'urn:ietf:params:jmap:submission';
export const VACATION_RESPONSE = 'urn:ietf:params:jmap:vacationresponse';
/** JMAP for Contacts (RFC 9610 §1.4.1). */
export const CONTACTS = 'urn:ietf:params:jmap:contacts';
