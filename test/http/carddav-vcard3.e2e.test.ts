/**
 * vCard 3.0 for CardDAV clients that ask for it (RFC 6352 §10.4.1) or wrote it, with curl: a GET
 * whose Accept names `text/vcard; version=3.0` and an addressbook-multiget whose address-data
 * asks `version="3.0"` get the stored vCard 4.0 card as 3.0 (PREF → TYPE=pref, data: photo →
 * ENCODING=b, KIND/MEMBER → X-ADDRESSBOOKSERVER-*), with an ETag of their own; a client that
 * does not ask gets the card in the version it was PUT in (a 3.0 PUT is stored as 4.0); a 3.0
 * card asked for as 4.0 comes as 4.0.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhotoBlobContactStore, photoBlobKey, photoPointers } from '#core/contacts/photo-blobs.ts';
import { checkVCard } from '#core/contacts/vcard.ts';
import { run } from '../support/clients.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

const ALICE = 'alice@example.test';
const CARD4 =
  'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:v4-card\r\nKIND:group\r\nFN:The Team\r\nEMAIL;PREF=1;TYPE=work:team@example.test\r\nTEL;VALUE=uri:tel:+1-555-0100\r\n' +
  'PHOTO:data:image/png;base64,iVBORw0KGgo=\r\nMEMBER:urn:uuid:m1\r\nEND:VCARD\r\n';
const CARD3 =
  'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v3-card\r\nFN:Old Client\r\nN:Client;Old;;;\r\nEMAIL;TYPE=INTERNET,HOME,pref:old@example.test\r\nEND:VCARD\r\n';

describe('CardDAV: vCard 3.0 served to clients that ask (RFC 6352 §10.4.1)', () => {
  let sys: TestSystem;
  const book = `/dav/addressbooks/${ALICE}/default/`;
  const curl = async (args: string[]) => {
    const r = await run('curl', ['-sSk', '-i', '--max-time', '20', '-u', `${ALICE}:alice-secret`, ...args], { timeoutMs: 30_000 });
    const cut = r.stdout.indexOf('\r\n\r\n');
    const head = r.stdout.slice(0, cut);
    return { status: Number(head.split(' ')[1]), head, body: r.stdout.slice(cut + 4) };
  };
  const url = (p: string) => `https://127.0.0.1:${sys.port('https')}${p}`;

  beforeAll(async () => {
    sys = await startTestSystem();
    await sys.addUser(ALICE, 'alice-secret');
    await sys.adapters.contacts.createAddressBook(ALICE, { id: 'default', displayName: 'Contacts' });
    await sys.adapters.contacts.putContact(ALICE, 'default', 'v4.vcf', { data: Buffer.from(CARD4), uid: 'v4-card' });
    await sys.adapters.contacts.putContact(ALICE, 'default', 'v3.vcf', { data: Buffer.from(CARD3), uid: 'v3-card' });
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('GET with Accept: text/vcard; version=3.0 gets the 4.0 card as 3.0 with an ETag of that version; without it, the stored bytes and ETag', async () => {
    const stored = (await sys.adapters.contacts.getContact(ALICE, 'default', 'v4.vcf'))!;
    const r = await curl(['-H', 'Accept: text/vcard; version=3.0', url(`${book}v4.vcf`)]);
    expect(r.status).toBe(200);
    expect(r.head).toMatch(/content-type: text\/vcard; charset=utf-8; version=3\.0/i);
    expect(r.head).toContain(`etag: "${stored.etag}.v3"`);
    expect(checkVCard(Buffer.from(r.body))).toMatchObject({ version: '3.0', uid: 'v4-card', fn: 'The Team' });
    expect(r.body).toContain('\r\nN:;;;;\r\n');
    expect(r.body).toContain('\r\nEMAIL;TYPE=work,pref:team@example.test\r\n');
    expect(r.body).toContain('\r\nTEL:+1-555-0100\r\n');
    expect(r.body).toContain('\r\nPHOTO;TYPE=PNG;ENCODING=b:iVBORw0KGgo=\r\n');
    expect(r.body).toContain('\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n');
    expect(r.body).toContain('\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:m1\r\n');
    const plain = await curl([url(`${book}v4.vcf`)]);
    expect(plain.body).toBe(CARD4);
    expect(plain.head).toContain(`etag: "${stored.etag}"`);
  });

  it('a 3.0 PUT (as iOS sends) is stored as 4.0 and read back as 3.0 by a client that does not ask; If-Match takes that ETag; a 4.0 PUT makes the card 4.0 again', async () => {
    const sent =
      'BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\nN:Appleseed;Johnny;;;\r\nFN:Johnny Appleseed\r\n' +
      'item1.EMAIL;type=INTERNET;type=HOME;type=pref:johnny@example.test\r\nTEL;type=CELL;type=VOICE:+1 555 0101\r\n' +
      'PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRg==\r\nUID:ios-card-1\r\nEND:VCARD\r\n';
    const put = await curl(['-X', 'PUT', '-H', 'Content-Type: text/vcard', '-H', 'If-None-Match: *', '--data-binary', sent, url(`${book}ios.vcf`)]);
    expect(put.status).toBe(201);
    expect(put.head).not.toMatch(/^etag:/im); // RFC 6352 §6.3.2.3: stored transformed
    const stored = (await sys.adapters.contacts.getContact(ALICE, 'default', 'ios.vcf'))!;
    expect(stored).toMatchObject({ clientVersion: '3.0', uid: 'ios-card-1' });
    const s = stored.data.toString();
    expect(checkVCard(stored.data).version).toBe('4.0');
    expect(s).toContain('\r\nitem1.EMAIL;TYPE=HOME;PREF=1:johnny@example.test\r\n');
    expect(s).toContain('\r\nPHOTO:data:image/jpeg;base64,/9j/4AAQSkZJRg==\r\n');

    const g = await curl([url(`${book}ios.vcf`)]);
    expect(g.status).toBe(200);
    expect(g.head).toContain(`etag: "${stored.etag}.v3"`);
    expect(checkVCard(Buffer.from(g.body))).toMatchObject({ version: '3.0', uid: 'ios-card-1', fn: 'Johnny Appleseed' });
    expect(g.body).toContain('\r\nitem1.EMAIL;TYPE=HOME,pref:johnny@example.test\r\n');
    expect(g.body).toContain('\r\nPHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQSkZJRg==\r\n');
    // A multiget that does not name a version answers 3.0 too, with the same ETag.
    const m = await curl([
      '-X',
      'REPORT',
      '-H',
      'Depth: 1',
      '-H',
      'Content-Type: application/xml',
      '--data-binary',
      `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><D:href>${book}ios.vcf</D:href></C:addressbook-multiget>`,
      url(book),
    ]);
    expect(m.body).toContain(`&quot;${stored.etag}.v3&quot;`);
    expect(m.body).toContain('VERSION:3.0&#13;');

    const edited = sent.replace('FN:Johnny Appleseed', 'FN:John Appleseed');
    const stale = await curl(['-X', 'PUT', '-H', 'Content-Type: text/vcard', '-H', 'If-Match: "stale"', '--data-binary', edited, url(`${book}ios.vcf`)]);
    expect(stale.status).toBe(412);
    const ok = await curl([
      '-X',
      'PUT',
      '-H',
      'Content-Type: text/vcard',
      '-H',
      `If-Match: "${stored.etag}.v3"`,
      '--data-binary',
      edited,
      url(`${book}ios.vcf`),
    ]);
    expect(ok.status).toBe(204);
    expect((await sys.adapters.contacts.getContact(ALICE, 'default', 'ios.vcf'))!.data.toString()).toContain('\r\nFN:John Appleseed\r\n');

    const four = 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:ios-card-1\r\nFN:John Four\r\nEND:VCARD\r\n';
    const put4 = await curl(['-X', 'PUT', '-H', 'Content-Type: text/vcard', '--data-binary', four, url(`${book}ios.vcf`)]);
    expect(put4.status).toBe(204);
    const now = (await sys.adapters.contacts.getContact(ALICE, 'default', 'ios.vcf'))!;
    expect(now.clientVersion).toBe('4.0');
    expect(put4.head).toContain(`etag: "${now.etag}"`);
    expect((await curl([url(`${book}ios.vcf`)])).body).toBe(four);
  });

  it('a 3.0 PUT that is not a vCard is refused with valid-address-data and nothing is stored', async () => {
    const bad = 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bad-3\r\nFN:No End\r\n';
    const r = await curl(['-X', 'PUT', '-H', 'Content-Type: text/vcard', '--data-binary', bad, url(`${book}bad3.vcf`)]);
    expect(r.status).toBe(400);
    expect(r.body).toContain('valid-address-data');
    expect(await sys.adapters.contacts.getContact(ALICE, 'default', 'bad3.vcf')).toBeNull();
  });

  it('addressbook-multiget with address-data version="3.0" (and "4.0") converts each card', async () => {
    const body = (version: string) =>
      `<?xml version="1.0" encoding="utf-8"?><C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data content-type="text/vcard" version="${version}"/></D:prop><D:href>${book}v4.vcf</D:href><D:href>${book}v3.vcf</D:href></C:addressbook-multiget>`;
    const r3 = await curl(['-X', 'REPORT', '-H', 'Depth: 1', '-H', 'Content-Type: application/xml', '--data-binary', body('3.0'), url(book)]);
    expect(r3.status).toBe(207);
    expect(r3.body).toContain('VERSION:3.0&#13;\nN:;;;;&#13;\nUID:v4-card');
    expect(r3.body).toContain('VERSION:3.0&#13;\nUID:v3-card');
    expect(r3.body).not.toContain('VERSION:4.0');
    const r4 = await curl(['-X', 'REPORT', '-H', 'Depth: 1', '-H', 'Content-Type: application/xml', '--data-binary', body('4.0'), url(book)]);
    expect(r4.body).not.toContain('VERSION:3.0');
    expect(r4.body).toContain('UID:v3-card');
    expect(r4.body).toContain('EMAIL;TYPE=HOME;PREF=1:old@example.test');
  });
  it('a 3.0 PUT with a 50 KiB ENCODING=b photo: stored as 4.0 with the photo in a blob, read back as 3.0 with the same photo', async () => {
    const b64 = randomBytes(50 * 1024).toString('base64');
    const line = `PHOTO;ENCODING=b;TYPE=JPEG:${b64}`;
    const sent = `BEGIN:VCARD\r\nVERSION:3.0\r\nN:Pic;Old;;;\r\nFN:Old Pic\r\n${(line.match(/.{1,74}/g) ?? []).join('\r\n ')}\r\nUID:old-pic\r\nEND:VCARD\r\n`;
    const put = await curl(['-X', 'PUT', '-H', 'Content-Type: text/vcard', '--data-binary', sent, url(`${book}oldpic.vcf`)]);
    expect(put.status).toBe(201);
    const stored = (await (sys.adapters.contacts as PhotoBlobContactStore).inner.getContact(ALICE, 'default', 'oldpic.vcf'))!;
    const [id] = photoPointers(stored.data);
    expect(await sys.adapters.blobs.exists(photoBlobKey(ALICE, 'default', 'oldpic.vcf', id!))).toBe(true);
    const r = await curl([url(`${book}oldpic.vcf`)]);
    expect(checkVCard(Buffer.from(r.body))).toMatchObject({ version: '3.0', uid: 'old-pic' });
    expect(r.body.replace(/\r\n[ \t]/g, '')).toContain(`\r\nPHOTO;TYPE=JPEG;ENCODING=b:${b64}\r\n`);
  });
});
