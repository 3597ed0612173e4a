/**
 * vCard 4.0 ↔ 3.0 (core/contacts/vcard-version.ts) for CardDAV clients that ask for a version
 * (RFC 6352 §10.4.1), and the Accept header's version parameter.
 */
import { describe, expect, it } from 'vitest';
import { vCardToJSContact } from '#core/contacts/jscontact.ts';
import { requestedVersion, toVCard3, toVCard4 } from '#core/contacts/vcard-version.ts';

const v4 = Buffer.from(
  'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u\r\nFN:Ann\r\nN:Lee;Ann;;;\r\nEMAIL;PROP-ID=e1;PREF=1;TYPE=home:ann@example.test\r\n' +
    'ADR;TYPE=work;LABEL="1 Main St, Town":;;1 Main St;Town;;;\r\nANNIVERSARY:20100612\r\nPHOTO:data:image/jpeg;base64,/9j/4AAQ\r\nEND:VCARD\r\n',
);

describe('vCard 4.0 ↔ 3.0', () => {
  it('4.0 → 3.0 → 4.0 keeps what the card says (as JSContact sees it, ids aside)', () => {
    const v3 = toVCard3(v4).toString();
    expect(v3).toContain('\r\nVERSION:3.0\r\n');
    expect(v3).toContain('\r\nEMAIL;TYPE=home,pref:ann@example.test\r\n');
    expect(v3).toContain('\r\nLABEL;TYPE=work:1 Main St, Town\r\n');
    expect(v3).toContain('\r\nX-ANNIVERSARY:20100612\r\n');
    expect(v3).toContain('\r\nPHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQ\r\n');
    expect(v3).not.toContain('PROP-ID');
    const back = vCardToJSContact(toVCard4(Buffer.from(v3)));
    const orig = vCardToJSContact(v4);
    expect(back.emails).toEqual({ e1: { address: 'ann@example.test', contexts: { private: true }, pref: 1 } });
    expect(back.anniversaries).toEqual(orig.anniversaries);
    expect(back.media).toEqual(orig.media);
    expect(back.name).toEqual(orig.name);
  });

  it('a card already in the version asked for is returned as it is', () => {
    expect(toVCard4(v4)).toBe(v4);
    const three = Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:X\r\nN:;;;;\r\nEND:VCARD\r\n');
    expect(toVCard3(three)).toBe(three);
  });

  it('reads the version an Accept header asks for (highest q wins); none when it does not say', () => {
    expect(requestedVersion('text/vcard; version=3.0')).toBe('3.0');
    expect(requestedVersion('text/vcard;version="4.0";q=0.5, text/vcard;version=3.0;q=0.9')).toBe('3.0');
    expect(requestedVersion('text/vcard, */*')).toBeNull();
    expect(requestedVersion(undefined)).toBeNull();
  });
});
