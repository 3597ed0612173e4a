/**
 * The parsers under CardDAV: the WebDAV XML reader (fargate-listeners/src/dav/xml.ts), the
 * vCard checks (core/contacts/vcard.ts), the URL layout (dav/paths.ts) and the
 * addressbook-query filter (dav/query.ts). Each fuzz run feeds random and mutated input and
 * requires a result or the parser's own error — never another exception (STYLE.md: a fuzz test
 * for every parser).
 */
import { describe, expect, it } from 'vitest';
import { VCardError, checkVCard, splitVCards } from '#core/contacts/vcard.ts';
import { parseDavPath } from '#listeners/dav/paths.ts';
import { UnsupportedFilterError, cardMatches, parseFilter } from '#listeners/dav/query.ts';
import { CARDDAV_NS, DAV_NS, XmlError, child, parseXml } from '#listeners/dav/xml.ts';
import { fuzzRuns, type Prng } from '../support/prng.ts';

const XML_SEEDS = [
  '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:displayname/></D:prop></D:propfind>',
  '<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter test="allof"><C:prop-filter name="FN"><C:text-match match-type="contains" negate-condition="yes">a&amp;b</C:text-match></C:prop-filter></C:filter></C:addressbook-query>',
  '<sync-collection xmlns="DAV:"><sync-token><![CDATA[urn:x]]></sync-token><!-- c --><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>',
];
const VCARD_SEEDS = [
  'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nFN:A\r\nEMAIL;TYPE="work,pref":a@example.test\r\nEND:VCARD\r\n',
  'BEGIN:VCARD\nVERSION:3.0\nUID:2\nFN:B\nNOTE:folded\n  line\nAGENT:BEGIN:VCARD\nEND:VCARD\n',
];

function mutate(rnd: Prng, s: string): string {
  let out = s;
  for (let n = rnd.between(1, 6); n > 0; n--) {
    const i = rnd.int(out.length + 1);
    const op = rnd.int(4);
    if (op === 0) out = out.slice(0, i) + out.slice(i + rnd.between(1, 8));
    else if (op === 1)
      out = out.slice(0, i) + rnd.pick(['<', '>', '&', '"', ':', ';', '\r\n', '\n ', '/', 'xmlns:X="y"', '<!DOCTYPE', ']]>', '\u0000', 'é']) + out.slice(i);
    else if (op === 2) out = out.slice(0, i) + rnd.bytes(rnd.between(1, 4)).toString('latin1') + out.slice(i);
    else out = out + out.slice(i, i + rnd.between(1, 40));
  }
  return out;
}

describe('WebDAV XML reader', () => {
  it('reads namespaces (default and prefixed), character data, CDATA and entities', () => {
    const root = parseXml(XML_SEEDS[1]);
    expect(root).toMatchObject({ ns: CARDDAV_NS, name: 'addressbook-query' });
    expect(child(root, DAV_NS, 'prop')!.children[0]).toMatchObject({ ns: DAV_NS, name: 'getetag' });
    const tm = child(child(child(root, CARDDAV_NS, 'filter')!, CARDDAV_NS, 'prop-filter')!, CARDDAV_NS, 'text-match')!;
    expect(tm.text).toBe('a&b');
    expect(tm.attrs).toEqual({ 'match-type': 'contains', 'negate-condition': 'yes' });
    expect(child(parseXml(XML_SEEDS[2]), DAV_NS, 'sync-token')!.text).toBe('urn:x');
  });

  it('refuses a DOCTYPE (no entity expansion, no external entities), undeclared prefixes, mismatched and unclosed tags, two roots, bare &', () => {
    for (const bad of [
      '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
      '<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
      '<D:x/>',
      '<a></b>',
      '<a>',
      '<a/><b/>',
      '<a>&</a>',
      '<a>&nope;</a>',
      'text<a/>',
      '',
    ])
      expect(() => parseXml(bad), bad).toThrow(XmlError);
    expect(() => parseXml(Buffer.from([0x3c, 0x61, 0xff, 0x2f, 0x3e]))).toThrow(/UTF-8/);
  });

  it('limits nesting depth and the number of elements', () => {
    expect(() => parseXml('<a>'.repeat(100) + '</a>'.repeat(100))).toThrow(/deep/);
    expect(() => parseXml(`<a>${'<b/>'.repeat(30_000)}</a>`)).toThrow(/too many/);
  });

  it('fuzz: mutated requests and random bytes give a tree or XmlError, nothing else', async () => {
    await fuzzRuns('dav xml', { seed: 0x6352, runs: 3000 }, (rnd) => {
      const input = rnd.chance(0.2) ? rnd.bytes(rnd.between(0, 200)) : mutate(rnd, rnd.pick(XML_SEEDS));
      try {
        parseXml(input);
      } catch (err) {
        if (!(err instanceof XmlError)) throw err;
      }
    });
  });
});

describe('vCard checks (RFC 6350, RFC 2426)', () => {
  it('accepts 4.0 and 3.0 (folded lines, LF endings, a nested AGENT card), reads the UID', () => {
    expect(checkVCard(Buffer.from(VCARD_SEEDS[0]))).toMatchObject({ version: '4.0', uid: 'urn:uuid:1', fn: 'A' });
    const v3 = checkVCard(Buffer.from(VCARD_SEEDS[1]));
    expect(v3).toMatchObject({ version: '3.0', uid: '2' });
    expect(v3.properties.find((p) => p.name === 'NOTE')!.value).toBe('folded line');
  });

  it('refuses other versions, two VERSIONs, two cards, missing BEGIN/END and non-UTF-8', () => {
    for (const bad of [
      'BEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD\r\n',
      'BEGIN:VCARD\r\nVERSION:4.0\r\nVERSION:3.0\r\nEND:VCARD\r\n',
      'BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n',
      'VERSION:4.0\r\nEND:VCARD\r\n',
      'BEGIN:VCARD\r\nVERSION:4.0\r\n',
      'BEGIN:VCARD\r\nVERSION:4.0\r\nno colon here\r\nEND:VCARD\r\n',
    ])
      expect(() => checkVCard(Buffer.from(bad)), bad).toThrow(VCardError);
    expect(() => checkVCard(Buffer.from([...Buffer.from('BEGIN:VCARD\r\nVERSION:4.0\r\nFN:'), 0xff, ...Buffer.from('\r\nEND:VCARD\r\n')]))).toThrow(/UTF-8/);
  });

  it('splits a file of several cards into their exact bytes', () => {
    const parts = splitVCards(Buffer.from(VCARD_SEEDS[0] + '\r\n' + VCARD_SEEDS[1]));
    expect(parts.map((p) => p.toString())).toEqual([VCARD_SEEDS[0], VCARD_SEEDS[1]]);
    expect(() => splitVCards(Buffer.from('junk\n' + VCARD_SEEDS[0]))).toThrow(VCardError);
  });

  it('fuzz: mutated cards give a result or VCardError, nothing else', async () => {
    await fuzzRuns('vcard', { seed: 0x6350, runs: 3000 }, (rnd) => {
      const input = Buffer.from(mutate(rnd, rnd.pick(VCARD_SEEDS)), 'latin1');
      for (const f of [() => checkVCard(input), () => splitVCards(input)]) {
        try {
          f();
        } catch (err) {
          if (!(err instanceof VCardError)) throw err;
        }
      }
    });
  });
});

describe('CardDAV URL layout', () => {
  const u = 'alice@example.test';
  it('names what the paths name, for the signed-in user only', () => {
    expect(parseDavPath('/dav/', u)).toEqual({ kind: 'root', user: u });
    expect(parseDavPath(`/dav/principals/${u}/`, u)).toEqual({ kind: 'principal', user: u });
    expect(parseDavPath('/dav/addressbooks/alice%40example.test/', u)).toEqual({ kind: 'home', user: u });
    expect(parseDavPath(`/dav/addressbooks/${u}/default/`, u)).toEqual({ kind: 'book', user: u, book: 'default' });
    expect(parseDavPath(`/dav/addressbooks/${u}/default/a%2Bb.vcf`, u)).toEqual({ kind: 'card', user: u, book: 'default', name: 'a+b.vcf' });
    for (const p of [
      '/dav/addressbooks/bob@example.test/default/',
      `/dav/addressbooks/${u}/default/a%2Fb.vcf`,
      `/dav/addressbooks/${u}/default/..`,
      `/dav/addressbooks/${u}/default/%2e%2e`,
      `/dav/addressbooks/${u}/default/a.vcf/`,
      `/dav/addressbooks/${u}/default/a/b`,
      `/dav/addressbooks/${u}/de fault/`,
      `/dav/addressbooks/${u}/default/%ZZ`,
      `/dav/other/${u}/`,
      '/davx/',
    ])
      expect(parseDavPath(p, u), p).toBeNull();
  });
});

describe('addressbook-query filter (RFC 6352 §10.5)', () => {
  const props = checkVCard(
    Buffer.from('BEGIN:VCARD\r\nVERSION:4.0\r\nUID:1\r\nFN:Cyrus Daboo\r\nEMAIL;TYPE=work:cyrus@example.com\r\nNICKNAME:me\r\nEND:VCARD\r\n'),
  ).properties;
  const filter = (xml: string) => parseFilter(parseXml(`<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav" ${xml}`));
  it('matches text (equals, contains, starts-with, ends-with, negated), presence, absence and parameters', () => {
    expect(cardMatches(props, filter('><C:prop-filter name="NICKNAME"><C:text-match match-type="equals">ME</C:text-match></C:prop-filter></C:filter>'))).toBe(
      true,
    );
    expect(
      cardMatches(
        props,
        filter('><C:prop-filter name="NICKNAME"><C:text-match match-type="equals" collation="i;octet">ME</C:text-match></C:prop-filter></C:filter>'),
      ),
    ).toBe(false);
    expect(cardMatches(props, filter('><C:prop-filter name="FN"><C:text-match match-type="starts-with">cyr</C:text-match></C:prop-filter></C:filter>'))).toBe(
      true,
    );
    expect(
      cardMatches(
        props,
        filter('><C:prop-filter name="FN"><C:text-match match-type="ends-with" negate-condition="yes">boo</C:text-match></C:prop-filter></C:filter>'),
      ),
    ).toBe(false);
    expect(cardMatches(props, filter('><C:prop-filter name="TEL"><C:is-not-defined/></C:prop-filter></C:filter>'))).toBe(true);
    expect(
      cardMatches(
        props,
        filter('><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match>WORK</C:text-match></C:param-filter></C:prop-filter></C:filter>'),
      ),
    ).toBe(true);
    expect(cardMatches(props, filter('test="allof"><C:prop-filter name="FN"/><C:prop-filter name="TEL"/></C:filter>'))).toBe(false);
    expect(cardMatches(props, filter('test="anyof"><C:prop-filter name="FN"/><C:prop-filter name="TEL"/></C:filter>'))).toBe(true);
    expect(() => filter('><C:prop-filter name="FN"><C:text-match collation="i;x">a</C:text-match></C:prop-filter></C:filter>')).toThrow(UnsupportedFilterError);
    expect(() => filter('test="most"></C:filter>')).toThrow(XmlError);
  });
});
