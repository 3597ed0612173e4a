/**
 * CardDAV exchanges with curl shaped like the examples of RFC 6352 (§6.3.2 creating a card,
 * §8.6 addressbook-query, §8.7 addressbook-multiget) and RFC 6578 (§3.8 sync-collection),
 * each answer parsed with Python's xml.etree (a parser we did not write); and bad input:
 * malformed XML and vCards, huge bodies, If-Match conflicts, path traversal, another user's
 * URLs, authentication.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhotoBlobContactStore, photoBlobKey, photoPointers } from '#core/contacts/photo-blobs.ts';
import { python, run } from '../support/clients.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

/** Reads a DAV answer on stdin and prints its shape as JSON: responses (href, status, props by {ns}name) and top-level elements. */
const PARSE = `
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
def props(ps):
    out = {}
    for p in ps:
        status = p.findtext('{DAV:}status')
        for e in p.find('{DAV:}prop'):
            out[e.tag] = dict(status=status, text=e.text, children=[c.tag for c in e], hrefs=[h.text for h in e.iter('{DAV:}href')], attrs=[dict(c.attrib) for c in e])
    return out
print(json.dumps(dict(
    root=root.tag,
    children=[c.tag for c in root],
    syncToken=root.findtext('{DAV:}sync-token'),
    responses=[dict(href=r.findtext('{DAV:}href'), status=r.findtext('{DAV:}status'), props=props(r.findall('{DAV:}propstat'))) for r in root.findall('{DAV:}response')],
)))
`;

interface Prop {
  status: string;
  text: string | null;
  children: string[];
  hrefs: string[];
  attrs: Array<Record<string, string>>;
}
interface Parsed {
  root: string;
  children: string[];
  syncToken: string | null;
  responses: Array<{ href: string; status: string | null; props: Record<string, Prop> }>;
}

const D = '{DAV:}';
const C = '{urn:ietf:params:xml:ns:carddav}';
const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const card = (uid: string, fn: string, extra = '') => `BEGIN:VCARD\r\nVERSION:4.0\r\nUID:${uid}\r\nFN:${fn}\r\n${extra}END:VCARD\r\n`;

describe('CardDAV over HTTPS with curl (RFC 6352, RFC 6578)', () => {
  let sys: TestSystem;
  const base = () => `https://127.0.0.1:${sys.port('https')}`;
  const book = `/dav/addressbooks/${ALICE}/default/`;

  /** curl with -i: status, headers (lower-cased names) and body. */
  const curl = async (args: string[], auth = `${ALICE}:alice-secret`, input?: string) => {
    const r = await run('curl', ['-sSk', '-i', '--max-time', '20', ...(auth ? ['-u', auth] : []), ...args], { timeoutMs: 30_000, input });
    let raw = r.stdout;
    // curl asks large bodies to be expected (Expect: 100-continue): skip the interim answer.
    while (/^HTTP\/1\.1 1\d\d /.test(raw)) raw = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    const cut = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, cut).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of head.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status: Number(head[0].split(' ')[1]), headers, body: raw.slice(cut + 4) };
  };
  const dav = (method: string, path: string, body?: string, headers: string[] = [], auth?: string) =>
    curl(['-X', method, ...headers.flatMap((h) => ['-H', h]), ...(body !== undefined ? ['--data-binary', '@-'] : []), `${base()}${path}`], auth, body);
  const parse = async (body: string): Promise<Parsed> => JSON.parse((await python(PARSE, [], { input: body })).stdout) as Parsed;
  const put = (name: string, data: string, headers: string[] = []) =>
    dav('PUT', `${book}${name}`, data, ['Content-Type: text/vcard; charset=utf-8', ...headers]);

  beforeAll(async () => {
    sys = await startTestSystem({ env: { AUTH_MAX_FAILURES_PER_ACCOUNT: '3' } });
    await sys.addUser(ALICE, 'alice-secret');
    await sys.addUser(BOB, 'bob-secret');
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('discovery: /.well-known/carddav redirects to /dav/ (RFC 6764 §5), whose current-user-principal leads to the addressbook-home-set (RFC 6352 §7.1.1)', async () => {
    const wk = await dav('PROPFIND', '/.well-known/carddav', undefined, ['Depth: 0'], '');
    expect(wk.status).toBe(301);
    expect(wk.headers.location).toBe('/dav/');
    const root = await parse(
      (
        await dav('PROPFIND', '/dav/', '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>', [
          'Depth: 0',
        ])
      ).body,
    );
    const principal = root.responses[0].props[`${D}current-user-principal`].hrefs[0];
    expect(principal).toBe(`/dav/principals/${ALICE}/`);
    const p = await parse(
      (
        await dav(
          'PROPFIND',
          principal,
          `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:addressbook-home-set/><D:resourcetype/><D:displayname/></D:prop></D:propfind>`,
          ['Depth: 0'],
        )
      ).body,
    );
    expect(p.responses[0].props[`${C}addressbook-home-set`].hrefs).toEqual([`/dav/addressbooks/${ALICE}/`]);
    expect(p.responses[0].props[`${D}resourcetype`].children).toContain(`${D}principal`);
    const home = await dav('PROPFIND', `/dav/addressbooks/${ALICE}/`, undefined, ['Depth: 1']);
    expect(home.status).toBe(207);
    const h = await parse(home.body);
    const b = h.responses.find((r) => r.href === book)!;
    expect(b.props[`${D}resourcetype`].children).toEqual([`${D}collection`, `${C}addressbook`]);
    expect(b.props[`${D}displayname`].text).toBe('Contacts');
    expect(b.props[`${C}supported-address-data`].attrs).toEqual([
      { 'content-type': 'text/vcard', version: '3.0' },
      { 'content-type': 'text/vcard', version: '4.0' },
    ]);
  });

  it('OPTIONS says DAV: 1, 3, addressbook (RFC 6352 §6.1); Depth: infinity on a collection is refused with propfind-finite-depth (RFC 4918 §9.1)', async () => {
    const o = await dav('OPTIONS', book);
    expect(o.headers.dav).toBe('1, 3, extended-mkcol, addressbook');
    expect(o.headers.allow).toContain('REPORT');
    const inf = await dav('PROPFIND', book, undefined, ['Depth: infinity']);
    expect(inf.status).toBe(403);
    expect((await parse(inf.body)).children).toContain(`${D}propfind-finite-depth`);
  });

  it('creates a card with If-None-Match: * (RFC 6352 §6.3.2.1 example, vCard 3.0): 201 without an ETag, stored as 4.0, served back as 3.0; a second create is 412', async () => {
    const data =
      'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cyrus Daboo\r\nN:Daboo;Cyrus\r\nADR;TYPE=POSTAL:;2822 Email HQ;Suite 2821;RFCVille;PA;15213;USA\r\nEMAIL;TYPE=INTERNET,PREF:cyrus@example.com\r\nNICKNAME:me\r\nNOTE:Example VCard.\r\nORG:Self Employed\r\nTEL;TYPE=WORK,VOICE:412 605 0499\r\nTEL;TYPE=FAX:412 605 0705\r\nURL:http://www.example.com\r\nUID:1234-5678-9000-1\r\nEND:VCARD\r\n';
    const r = await put('newvcard.vcf', data, ['If-None-Match: *']);
    expect(r.status).toBe(201);
    // RFC 6352 §6.3.2.3: what is stored (vCard 4.0) is not what was sent, so no ETag: the client GETs the card.
    expect(r.headers.etag).toBeUndefined();
    const stored = (await sys.adapters.contacts.getContact(ALICE, 'default', 'newvcard.vcf'))!;
    expect(stored.clientVersion).toBe('3.0');
    expect(stored.data.toString()).toBe(data.replace('VERSION:3.0', 'VERSION:4.0').replace('EMAIL;TYPE=INTERNET,PREF:', 'EMAIL;PREF=1:'));
    const g = await curl([`${base()}${book}newvcard.vcf`]);
    expect(g.status).toBe(200);
    expect(g.headers['content-type']).toBe('text/vcard; charset=utf-8');
    expect(g.body).toBe(data.replace('EMAIL;TYPE=INTERNET,PREF:', 'EMAIL;TYPE=pref:'));
    // One ETag per stored card and version served, the same on every read.
    expect(g.headers.etag).toBe(`"${stored.etag}.v3"`);
    expect((await curl([`${base()}${book}newvcard.vcf`])).headers.etag).toBe(g.headers.etag);
    const g4 = await curl(['-H', 'Accept: text/vcard; version=4.0', `${base()}${book}newvcard.vcf`]);
    expect(g4.body).toBe(stored.data.toString());
    expect(g4.headers.etag).toBe(`"${stored.etag}"`);
    expect((await curl(['-H', `If-None-Match: ${g.headers.etag}`, `${base()}${book}newvcard.vcf`])).status).toBe(304);
    expect((await curl(['-H', `If-None-Match: ${g.headers.etag}`, '-H', 'Accept: text/vcard; version=4.0', `${base()}${book}newvcard.vcf`])).status).toBe(200);
    const listed = await parse((await dav('PROPFIND', book, '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>', ['Depth: 1'])).body);
    expect(listed.responses.find((x) => x.href === `${book}newvcard.vcf`)!.props[`${D}getetag`].text).toBe(g.headers.etag);
    expect((await put('newvcard.vcf', data, ['If-None-Match: *'])).status).toBe(412);
  });

  it('a vCard 4.0 PUT is stored byte for byte and answered with its ETag, which GET and PROPFIND give too', async () => {
    const data = card('four-1', 'Four One', 'EMAIL;TYPE=work:four@example.com\r\n');
    const r = await put('four.vcf', data, ['If-None-Match: *']);
    expect(r.status).toBe(201);
    const stored = (await sys.adapters.contacts.getContact(ALICE, 'default', 'four.vcf'))!;
    expect(stored.data.toString()).toBe(data);
    expect(r.headers.etag).toBe(`"${stored.etag}"`);
    const g = await curl([`${base()}${book}four.vcf`]);
    expect(g.body).toBe(data);
    expect(g.headers.etag).toBe(r.headers.etag);
    const listed = await parse(
      (await dav('PROPFIND', `${book}four.vcf`, '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>', ['Depth: 0'])).body,
    );
    expect(listed.responses[0].props[`${D}getetag`].text).toBe(r.headers.etag);
    expect((await dav('DELETE', `${book}four.vcf`, undefined, [`If-Match: ${r.headers.etag}`])).status).toBe(204);
  });

  it('a 50 KiB photo is stored as a blob and the card comes back byte for byte (GET, multiget) with one stable ETag; deleting the card deletes the blob', async () => {
    const b64 = randomBytes(50 * 1024).toString('base64');
    const line = `PHOTO;MEDIATYPE=image/jpeg:data:image/jpeg;base64,${b64}`;
    const folded = (line.match(/.{1,74}/g) ?? []).join('\r\n ');
    const data = card('photo-1', 'Photo One', `${folded}\r\nEMAIL:photo@example.com\r\n`);
    const r = await put('photo.vcf', data, ['If-None-Match: *']);
    expect(r.status).toBe(201);
    expect(r.headers.etag).toBeDefined();
    const store = sys.adapters.contacts;
    expect(store).toBeInstanceOf(PhotoBlobContactStore);
    const stored = (await (store as PhotoBlobContactStore).inner.getContact(ALICE, 'default', 'photo.vcf'))!;
    expect(stored.data.length).toBeLessThan(500);
    const ids = photoPointers(stored.data);
    expect(ids).toHaveLength(1);
    const key = photoBlobKey(ALICE, 'default', 'photo.vcf', ids[0]!);
    expect(await sys.adapters.blobs.exists(key)).toBe(true);
    for (let i = 0; i < 2; i++) {
      const g = await curl([`${base()}${book}photo.vcf`]);
      expect(g.body).toBe(data);
      expect(g.headers.etag).toBe(r.headers.etag);
    }
    const multi = await parse(
      (
        await dav(
          'REPORT',
          book,
          `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><D:href>${book}photo.vcf</D:href></C:addressbook-multiget>`,
          ['Depth: 1', 'Content-Type: application/xml'],
        )
      ).body,
    );
    expect(multi.responses[0].props[`${C}address-data`].text).toBe(data);
    expect(multi.responses[0].props[`${D}getetag`].text).toBe(r.headers.etag);
    expect((await dav('DELETE', `${book}photo.vcf`, undefined, [`If-Match: ${r.headers.etag}`])).status).toBe(204);
    expect(await sys.adapters.blobs.exists(key)).toBe(false);
  });

  it('a PHOTO naming the server’s own blob scheme is refused with 400 valid-address-data', async () => {
    const r = await put('ptr.vcf', card('ptr-1', 'Ptr', 'PHOTO:x-cloudmail-photo:00000000-0000-0000-0000-000000000000\r\n'));
    expect(r.status).toBe(400);
    expect(r.body).toContain('valid-address-data');
    expect(await sys.adapters.contacts.getContact(ALICE, 'default', 'ptr.vcf')).toBeNull();
  });

  it('If-Match: a stale ETag gets 412 on PUT and DELETE, the current one succeeds (RFC 7232 §3.1)', async () => {
    const first = await put('match.vcf', card('match-1', 'Match'));
    const second = await put('match.vcf', card('match-1', 'Match 2'), [`If-Match: ${first.headers.etag}`]);
    expect(second.status).toBe(204);
    expect((await put('match.vcf', card('match-1', 'Match 3'), [`If-Match: ${first.headers.etag}`])).status).toBe(412);
    expect((await dav('DELETE', `${book}match.vcf`, undefined, [`If-Match: ${first.headers.etag}`])).status).toBe(412);
    expect((await dav('DELETE', `${book}match.vcf`, undefined, [`If-Match: ${second.headers.etag}`])).status).toBe(204);
    expect((await curl([`${base()}${book}match.vcf`])).status).toBe(404);
  });

  it('addressbook-query (RFC 6352 §8.6.4 example): NICKNAME equals "me" finds the card, with getetag and address-data', async () => {
    await put('other.vcf', card('other-1', 'Someone Else', 'NICKNAME:notme\r\nEMAIL:else@example.com\r\n'));
    const q = await dav(
      'REPORT',
      book,
      `<?xml version="1.0" encoding="utf-8" ?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop>
    <D:getetag/>
    <C:address-data>
      <C:prop name="VERSION"/>
      <C:prop name="UID"/>
      <C:prop name="NICKNAME"/>
      <C:prop name="EMAIL"/>
      <C:prop name="FN"/>
    </C:address-data>
  </D:prop>
  <C:filter>
    <C:prop-filter name="NICKNAME">
      <C:text-match collation="i;unicode-casemap" match-type="equals">me</C:text-match>
    </C:prop-filter>
  </C:filter>
</C:addressbook-query>`,
      ['Depth: 1', 'Content-Type: text/xml; charset="utf-8"'],
    );
    expect(q.status).toBe(207);
    const m = await parse(q.body);
    expect(m.responses.map((r) => r.href)).toEqual([`${book}newvcard.vcf`]);
    expect(m.responses[0].props[`${D}getetag`].text).toMatch(/^"/);
    expect(m.responses[0].props[`${C}address-data`].text).toContain('UID:1234-5678-9000-1\r\n'); // CR kept (sent as &#13;)

    // §8.6.3's anyof over FN and EMAIL, "contains", case-insensitive; and a limit of 1 (§8.6.1: 507 says there was more).
    const anyof = `<C:filter test="anyof"><C:prop-filter name="FN"><C:text-match collation="i;unicode-casemap" match-type="contains">daboo</C:text-match></C:prop-filter><C:prop-filter name="EMAIL"><C:text-match collation="i;unicode-casemap" match-type="contains">ELSE@</C:text-match></C:prop-filter></C:filter>`;
    const both = await parse(
      (
        await dav(
          'REPORT',
          book,
          `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>${anyof}</C:addressbook-query>`,
        )
      ).body,
    );
    expect(both.responses.map((r) => r.href).sort()).toEqual([`${book}newvcard.vcf`, `${book}other.vcf`]);
    const limited = await parse(
      (
        await dav(
          'REPORT',
          book,
          `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop>${anyof}<C:limit><C:nresults>1</C:nresults></C:limit></C:addressbook-query>`,
        )
      ).body,
    );
    expect(limited.responses).toHaveLength(2);
    expect(limited.responses[1]).toMatchObject({ href: book, status: 'HTTP/1.1 507 Insufficient Storage' });
    const badCollation = await dav(
      'REPORT',
      book,
      `<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="FN"><C:text-match collation="x;nope">a</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`,
    );
    expect(badCollation.status).toBe(403);
    expect((await parse(badCollation.body)).children).toContain(`${C}supported-collation`);
  });

  it('addressbook-multiget (RFC 6352 §8.7.1 example): found hrefs with their data, a missing one as 404; an href into another user’s book is 404 and shows nothing', async () => {
    const bobCard = card('bob-secret-uid', 'Bob Private');
    await sys.adapters.contacts.createAddressBook(BOB, { id: 'default', displayName: 'Contacts' });
    await sys.adapters.contacts.putContact(BOB, 'default', 'private.vcf', { data: Buffer.from(bobCard), uid: 'bob-secret-uid' });
    const r = await dav(
      'REPORT',
      book,
      `<?xml version="1.0" encoding="utf-8" ?>
<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop>
    <D:getetag/>
    <C:address-data>
      <C:prop name="VERSION"/>
      <C:prop name="UID"/>
      <C:prop name="NICKNAME"/>
      <C:prop name="EMAIL"/>
      <C:prop name="FN"/>
    </C:address-data>
  </D:prop>
  <D:href>${book}newvcard.vcf</D:href>
  <D:href>${book}vcf1.vcf</D:href>
  <D:href>/dav/addressbooks/${BOB}/default/private.vcf</D:href>
  <D:href>${book}../../${BOB}/default/private.vcf</D:href>
  <D:href>${base()}${book}other.vcf</D:href>
</C:addressbook-multiget>`,
      ['Depth: 1'],
    );
    expect(r.status).toBe(207);
    expect(r.body).not.toContain('Bob Private');
    const m = await parse(r.body);
    const byHref = Object.fromEntries(m.responses.map((x) => [x.href, x]));
    expect(byHref[`${book}newvcard.vcf`].props[`${C}address-data`].text).toContain('FN:Cyrus Daboo');
    expect(byHref[`${book}vcf1.vcf`].status).toBe('HTTP/1.1 404 Not Found');
    expect(byHref[`/dav/addressbooks/${BOB}/default/private.vcf`].status).toBe('HTTP/1.1 404 Not Found');
    expect(byHref[`${book}../../${BOB}/default/private.vcf`].status).toBe('HTTP/1.1 404 Not Found');
    expect(byHref[`${book}other.vcf`].props[`${D}getetag`].status).toBe('HTTP/1.1 200 OK');
  });

  it('sync-collection (RFC 6578 §3.8): an empty token lists every card; the next token reports exactly what changed, deletions as 404; a bad token is 403 valid-sync-token', async () => {
    const report = (token: string) =>
      dav(
        'REPORT',
        book,
        `<?xml version="1.0" encoding="utf-8" ?><D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
      );
    const initial = await parse((await report('')).body);
    expect(initial.responses.map((r) => r.href).sort()).toEqual([`${book}newvcard.vcf`, `${book}other.vcf`]);
    expect(initial.syncToken).toMatch(/^urn:/);
    const quiet = await parse((await report(initial.syncToken!)).body);
    expect(quiet.responses).toEqual([]);
    expect(quiet.syncToken).toBe(initial.syncToken);

    await put('third.vcf', card('third-1', 'Third'));
    expect((await dav('DELETE', `${book}other.vcf`)).status).toBe(204);
    const inc = await parse((await report(initial.syncToken!)).body);
    expect(inc.responses.find((r) => r.href === `${book}third.vcf`)?.props[`${D}getetag`].status).toBe('HTTP/1.1 200 OK');
    expect(inc.responses.find((r) => r.href === `${book}other.vcf`)?.status).toBe('HTTP/1.1 404 Not Found');
    expect(inc.responses).toHaveLength(2);
    expect(inc.syncToken).not.toBe(initial.syncToken);

    const bad = await report('urn:cloudmail:sync:1-999999');
    expect(bad.status).toBe(403);
    expect((await parse(bad.body)).children).toContain(`${D}valid-sync-token`);
  });

  it('malformed XML, a DOCTYPE (entity expansion) and a non-UTF-8 body get 400 with a DAV:error body; the server keeps serving', async () => {
    for (const body of [
      '<D:propfind xmlns:D="DAV:"><D:prop>',
      '<x:propfind xmlns:D="DAV:"/>',
      '<!DOCTYPE d [<!ENTITY a "aaaa">]><D:propfind xmlns:D="DAV:">&a;</D:propfind>',
      '\xff\xfe<',
    ]) {
      const r = await dav('PROPFIND', book, body, ['Depth: 0']);
      expect(r.status, body).toBe(400);
      expect((await parse(r.body)).root).toBe(`${D}error`);
    }
    expect((await dav('REPORT', book, '<D:unknown-report xmlns:D="DAV:"/>')).status).toBe(403);
    expect((await dav('PROPFIND', book, undefined, ['Depth: 0'])).status).toBe(207);
  });

  it('malformed vCards get 400 with CARDDAV:valid-address-data (RFC 6352 §6.3.2.1); a second card with a used UID gets 409 no-uid-conflict naming the other', async () => {
    for (const data of [
      'not a vcard',
      'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:No End\r\nUID:x\r\n',
      'BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Old\r\nUID:x\r\nEND:VCARD\r\n',
      'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:No UID\r\nEND:VCARD\r\n',
      card('a', 'A') + card('b', 'B'),
    ]) {
      const r = await put('bad.vcf', data);
      expect(r.status, data).toBe(400);
      expect((await parse(r.body)).children).toContain(`${C}valid-address-data`);
    }
    const dup = await put('dup.vcf', card('1234-5678-9000-1', 'Same UID'));
    expect(dup.status).toBe(409);
    const e = await python(
      `import sys, xml.etree.ElementTree as ET\nr = ET.fromstring(sys.stdin.buffer.read())\nprint(r.find('{urn:ietf:params:xml:ns:carddav}no-uid-conflict/{DAV:}href').text)`,
      [],
      { input: dup.body },
    );
    expect(e.stdout.trim()).toBe(`${book}newvcard.vcf`);
    expect((await dav('PUT', `${book}type.vcf`, card('t', 'T'), ['Content-Type: application/json'])).status).toBe(415);
  });

  it('a vCard over 1 MiB (a huge inline photo) gets 413, and nothing is stored', async () => {
    const photo = 'A'.repeat(1024 * 1024);
    const r = await put('huge.vcf', card('huge', 'Huge', `PHOTO:data:image/jpeg;base64,${photo}\r\n`));
    expect(r.status).toBe(413);
    expect(await sys.adapters.contacts.getContact(ALICE, 'default', 'huge.vcf')).toBeNull();
    // Chunked (no Content-Length): the limit holds while reading.
    const chunked = await put('huge.vcf', card('huge', 'Huge', `PHOTO:data:image/jpeg;base64,${photo}\r\n`), ['Transfer-Encoding: chunked']);
    expect(chunked.status).toBe(413);
    expect(await sys.adapters.contacts.getContact(ALICE, 'default', 'huge.vcf')).toBeNull();
  });

  it('extended MKCOL (RFC 5689, RFC 6352 §6.3.1.1) creates a named address book; a second MKCOL is 405; another resourcetype is 403; DELETE removes the book', async () => {
    const path = `/dav/addressbooks/${ALICE}/work/`;
    const body = `<?xml version="1.0" encoding="utf-8" ?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
    <D:displayname>Lisa's Contacts</D:displayname>
    <C:addressbook-description xml:lang="en">My primary address book.</C:addressbook-description>
  </D:prop></D:set>
</D:mkcol>`;
    expect((await dav('MKCOL', path, body)).status).toBe(201);
    expect((await dav('MKCOL', path, body)).status).toBe(405);
    const other = await dav(
      'MKCOL',
      `/dav/addressbooks/${ALICE}/cal/`,
      body.replace('<C:addressbook/>', '<X:calendar xmlns:X="urn:ietf:params:xml:ns:caldav"/>'),
    );
    expect(other.status).toBe(403);
    const b = (await parse((await dav('PROPFIND', path, undefined, ['Depth: 0'])).body)).responses[0];
    expect(b.props[`${D}displayname`].text).toBe("Lisa's Contacts");
    expect(b.props[`${C}addressbook-description`].text).toBe('My primary address book.');
    expect((await put('../work/w.vcf', card('w', 'W'))).status).toBe(201);
    expect((await dav('DELETE', path)).status).toBe(204);
    expect((await dav('PROPFIND', path, undefined, ['Depth: 0'])).status).toBe(404);
    expect(await sys.adapters.contacts.getContact(ALICE, 'work', 'w.vcf')).toBeNull();
  });

  it('path traversal and another user’s URLs: 404 exactly like a URL that names nothing, and nothing of Bob’s in the answer', async () => {
    const paths = [
      `/dav/addressbooks/${BOB}/default/private.vcf`,
      `/dav/addressbooks/${BOB}/default/`,
      `/dav/addressbooks/${BOB}/`,
      `/dav/principals/${BOB}/`,
      `/dav/addressbooks/${ALICE}/../${BOB}/default/private.vcf`,
      `/dav/addressbooks/${ALICE}/%2e%2e/${BOB}/default/private.vcf`,
      `/dav/addressbooks/${ALICE}/default/..%2f..%2f${BOB}%2fdefault%2fprivate.vcf`,
      `/dav/addressbooks/nobody@example.test/default/`,
    ];
    for (const p of paths) {
      for (const method of ['GET', 'PROPFIND', 'DELETE']) {
        const r = await curl(['--path-as-is', '-X', method, '-H', 'Depth: 0', `${base()}${p}`]);
        expect(r.status, `${method} ${p}`).toBe(404);
        expect(r.body).not.toMatch(/Bob Private|bob-secret-uid/);
      }
    }
    expect((await dav('PUT', `/dav/addressbooks/${BOB}/default/evil.vcf`, card('evil', 'Evil'), ['Content-Type: text/vcard'])).status).toBe(404);
    expect(await sys.adapters.contacts.getContact(BOB, 'default', 'evil.vcf')).toBeNull();
    expect((await sys.adapters.contacts.getContact(BOB, 'default', 'private.vcf'))?.data.toString()).toContain('Bob Private');
  });

  it('authentication: none gets 401 with a Basic challenge; wrong passwords are throttled like the other listeners (429)', async () => {
    const none = await dav('PROPFIND', book, undefined, ['Depth: 0'], '');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="CardDAV"/);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await dav('PROPFIND', `/dav/addressbooks/${BOB}/`, undefined, ['Depth: 0'], `${BOB}:wrong`)).status);
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
  });
});
