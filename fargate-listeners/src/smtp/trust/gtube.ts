/**
 * GTUBE, the Generic Test for Unsolicited Bulk Email (SpamAssassin; rspamd and others know it
 * too): a message holding this string is spam by definition, so that a filter can be tested
 * end to end without real spam. SpamAssassin matches it anywhere in the body; it is searched
 * for in the whole message here (raw bytes: a base64-encoded part hides it, as elsewhere).
 */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

const needle = Buffer.from(GTUBE, 'latin1');

export function containsGtube(message: Buffer): boolean {
  return message.indexOf(needle) >= 0;
}
