/**
 * JSContact (RFC 9553) ↔ vCard (RFC 6350) conversion (core/contacts/jscontact.ts), on the
 * examples of RFC 9555 §2 (the vCard property mapping) and on round trips: a card converted to
 * JSContact and back keeps what it said, unknown properties included (vCardProps, §3.3.1), and
 * JSContact properties with no vCard property survive as JSPROP (§3.2.1).
 */
import { describe, expect, it } from 'vitest';
import { invalidCardProperties, jsContactToVCard, vCardToJSContact, type JsonObject } from '#core/contacts/jscontact.ts';
import { checkVCard } from '#core/contacts/vcard.ts';

const vcard = (...lines: string[]) => Buffer.from(['BEGIN:VCARD', 'VERSION:4.0', 'UID:test-uid', ...lines, 'END:VCARD', ''].join('\r\n'));
const js = (...lines: string[]) => vCardToJSContact(vcard(...lines));
/** vCard → JSContact → vCard → JSContact gives the same JSContact. */
const roundTrip = (card: JsonObject) => vCardToJSContact(jsContactToVCard(card));

describe('vCard → JSContact (RFC 9555 §2)', () => {
  it('N and FN become name.components and name.full (§2.3.1, §2.3.3)', () => {
    const c = js('FN:Mr. John Q. Public\\, Esq.', 'N:Public;John;Quinlan;Mr.;Esq.');
    expect(c.name).toEqual({
      full: 'Mr. John Q. Public, Esq.',
      components: [
        { kind: 'title', value: 'Mr.' },
        { kind: 'given', value: 'John' },
        { kind: 'given2', value: 'Quinlan' },
        { kind: 'surname', value: 'Public' },
        { kind: 'credential', value: 'Esq.' },
      ],
    });
    expect(c).toMatchObject({ '@type': 'Card', version: '1.0', uid: 'test-uid' });
  });

  it('EMAIL with TYPE and PREF become emails with contexts and pref (§2.4.1)', () => {
    expect(js('FN:x', 'EMAIL;TYPE=work:jqpublic@xyz.example.com', 'EMAIL;PREF=1:jane_doe@example.com').emails).toEqual({
      e1: { address: 'jqpublic@xyz.example.com', contexts: { work: true } },
      e2: { address: 'jane_doe@example.com', pref: 1 },
    });
  });

  it('TEL with a tel: URI, features and contexts becomes phones (§2.4.3)', () => {
    expect(js('FN:x', 'TEL;VALUE=uri;PREF=1;TYPE="voice,home":tel:+1-555-555-5555;ext=5555', 'TEL;TYPE=cell:+1 555 0100').phones).toEqual({
      p1: { number: 'tel:+1-555-555-5555;ext=5555', features: { voice: true }, contexts: { private: true }, pref: 1 },
      p2: { number: '+1 555 0100', features: { mobile: true } },
    });
  });

  it('ADR becomes an address with components; LABEL its full form (§2.5.1)', () => {
    const c = js('FN:x', 'ADR;TYPE=work;LABEL="123 Main Street\\nAny Town, CA 91921-1234":;;123 Main Street;Any Town;CA;91921-1234;U.S.A.');
    expect(c.addresses).toEqual({
      a1: {
        components: [
          { kind: 'name', value: '123 Main Street' },
          { kind: 'locality', value: 'Any Town' },
          { kind: 'region', value: 'CA' },
          { kind: 'postcode', value: '91921-1234' },
          { kind: 'country', value: 'U.S.A.' },
        ],
        full: '123 Main Street\nAny Town, CA 91921-1234',
        contexts: { work: true },
      },
    });
  });

  it('BDAY and ANNIVERSARY become anniversaries: dates, dates without a year, timestamps (§2.8.1, §2.8.2)', () => {
    expect(js('FN:x', 'BDAY:19531015T231000Z', 'ANNIVERSARY:19960415', 'BDAY;PROP-ID=kid:--0203').anniversaries).toEqual({
      b1: { kind: 'birth', date: { '@type': 'Timestamp', utc: '1953-10-15T23:10:00Z' } },
      b2: { kind: 'wedding', date: { '@type': 'PartialDate', year: 1996, month: 4, day: 15 } },
      kid: { kind: 'birth', date: { '@type': 'PartialDate', month: 2, day: 3 } },
    });
  });

  it('a BDAY that is text is kept as an unknown property, not lost (§3.3.1)', () => {
    const c = js('FN:x', 'BDAY;VALUE=text:circa 1800');
    expect(c.anniversaries).toBeUndefined();
    expect(c.vCardProps).toEqual([['bday', { value: 'text' }, 'unknown', 'circa 1800']]);
  });

  it('KIND:group with MEMBER becomes kind and members (§2.1.4, §2.1.5); ORG, NICKNAME, TITLE, CATEGORIES, NOTE, URL map too', () => {
    const c = js(
      'KIND:group',
      'FN:The Doe family',
      'MEMBER:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af',
      'MEMBER:urn:uuid:b8767877-b4a1-4c70-9acc-505d3819e519',
      'ORG:ABC\\, Inc.;North American Division;Marketing',
      'NICKNAME:Robbie',
      'TITLE:Research Scientist',
      'CATEGORIES:INTERNET,IETF',
      'NOTE:This fax number is operational 0800 to 1715 EST\\, Mon-Fri.',
      'URL;TYPE=home:https://example.com/~doe',
    );
    expect(c).toMatchObject({
      kind: 'group',
      members: { 'urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af': true, 'urn:uuid:b8767877-b4a1-4c70-9acc-505d3819e519': true },
      organizations: { o1: { name: 'ABC, Inc.', units: [{ name: 'North American Division' }, { name: 'Marketing' }] } },
      nicknames: { k1: { name: 'Robbie' } },
      titles: { t1: { name: 'Research Scientist', kind: 'title' } },
      keywords: { INTERNET: true, IETF: true },
      notes: { n1: { note: 'This fax number is operational 0800 to 1715 EST, Mon-Fri.' } },
      links: { l1: { uri: 'https://example.com/~doe', contexts: { private: true } } },
    });
  });

  it('a vCard 3.0 inline PHOTO becomes a media entry with a data: URI', () => {
    const c = vCardToJSContact(Buffer.from('BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p\r\nFN:P\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\n SkZJRg==\r\nEND:VCARD\r\n'));
    expect(c.media).toEqual({ m1: { kind: 'photo', uri: 'data:image/jpeg;base64,/9j/4AAQSkZJRg==' } });
  });
});

describe('JSContact → vCard and round trips', () => {
  it('writes a vCard 4.0 that checkVCard accepts, with PROP-IDs, folded at 75 octets', () => {
    const long = 'ü'.repeat(60);
    const data = jsContactToVCard({ uid: 'u1', name: { full: long }, emails: { main: { address: 'a@b.test', contexts: { private: true } } } });
    const text = data.toString();
    const v = checkVCard(data);
    expect(v).toMatchObject({ version: '4.0', uid: 'u1', fn: long });
    expect(text).toContain('\r\nEMAIL;PROP-ID=main;TYPE=home:a@b.test\r\n');
    for (const line of text.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
  });

  it('a card without name.full gets an FN derived from the components, marked DERIVED, which reads back as no full name (RFC 9554 §4.4)', () => {
    const data = jsContactToVCard({
      uid: 'u',
      name: {
        components: [
          { kind: 'given', value: 'Ann' },
          { kind: 'surname', value: 'Lee' },
        ],
      },
    });
    expect(data.toString()).toContain('\r\nFN;DERIVED=TRUE:Ann Lee\r\n');
    expect(vCardToJSContact(data).name).toEqual({
      components: [
        { kind: 'given', value: 'Ann' },
        { kind: 'surname', value: 'Lee' },
      ],
    });
  });

  it('keeps unknown vCard properties with their groups and parameters (vCardProps, vCardParams: Apple labels)', () => {
    const original = js('FN:Jo', 'item1.EMAIL;TYPE=work;X-SERVICE=a:jo@example.com', 'item1.X-ABLabel:_$!<Other>!$_', 'X-SOCIAL;TYPE=x:jo');
    expect(original.emails).toEqual({ e1: { address: 'jo@example.com', contexts: { work: true }, vCardParams: { 'x-service': 'a', group: 'item1' } } });
    const text = jsContactToVCard(original).toString();
    expect(text).toContain('\r\nitem1.EMAIL;PROP-ID=e1;X-SERVICE=a;TYPE=work:jo@example.com\r\n');
    expect(text).toContain('\r\nitem1.X-ABLABEL:_$!<Other>!$_\r\n');
    expect(text).toContain('\r\nX-SOCIAL;TYPE=x:jo\r\n');
    expect(roundTrip(original)).toEqual(original);
  });

  it('keeps JSContact properties with no vCard property as JSPROP (RFC 9555 §3.2.1)', () => {
    const card: JsonObject = {
      '@type': 'Card',
      version: '1.0',
      uid: 'u2',
      name: { full: 'Kim' },
      speakToAs: { grammaticalGender: 'neuter', pronouns: { k1: { pronouns: 'they/them' } } },
      emails: { e: { address: 'kim@example.com', label: 'personal; main' } },
      phones: { p: { number: '+1 555', features: { fax: true }, label: 'office fax' } },
    };
    const text = jsContactToVCard(card).toString();
    expect(text).toContain('JSPROP;JSPTR=speakToAs:');
    expect(text).toContain('JSPROP;JSPTR=emails/e/label:"personal\\; main"');
    expect(roundTrip(card)).toEqual(card);
  });

  it('round-trips every mapped property', () => {
    const card = js(
      'KIND:individual',
      'FN:Dr. Ann-Marie Schmidt',
      'N;SORT-AS=Schmidt,Ann:Schmidt;Ann,Marie;;Dr.;PhD;;III',
      'NICKNAME:Annie',
      'ORG;SORT-AS=Acme:Acme;R&D',
      'TITLE:CTO',
      'ROLE:Owner',
      'EMAIL;TYPE=home;PREF=2:ann@home.test',
      'TEL;TYPE=work,voice,fax:+49 30 1234',
      'ADR;TYPE=home;CC=DE:PO 1;Apt 2;Hauptstr. 1;Berlin;BE;10115;Germany',
      'URL:https://ann.test',
      'IMPP:xmpp:ann@chat.test',
      'PHOTO:https://ann.test/p.jpg',
      'BDAY:1980',
      'CATEGORIES:friends,work',
      'NOTE:line one\\nline two',
      'LANG;PREF=1:de',
      'REV:20240102T030405Z',
      'PRODID:-//Test//EN',
    );
    expect(card.name).toMatchObject({ sortAs: { surname: 'Schmidt', given: 'Ann' } });
    expect(roundTrip(card)).toEqual(card);
  });
});

describe('invalidCardProperties (RFC 9553 shapes a JMAP client must send)', () => {
  it('names the bad properties by JSON pointer', () => {
    expect(invalidCardProperties({ uid: 'x', emails: { e: { address: 1 } }, kind: 'Person!' })).toEqual(['kind', 'emails/e/address']);
    expect(invalidCardProperties({ members: { a: false }, keywords: [] as never, vCardProps: [['x-a', {}, 'unknown', 'a\r\nB:1']] })).toEqual([
      'members',
      'keywords',
      'vCardProps',
    ]);
    expect(invalidCardProperties({ name: { full: 'ok' }, emails: { e: { address: 'a@b', contexts: { work: true }, pref: 1 } } })).toEqual([]);
  });
});
