/**
 * JMAP for Contacts (RFC 9610) over the plain loopback listener, on both adapter sets:
 * AddressBook/get, /changes, /set; ContactCard/get, /changes, /set, /query, /queryChanges; push
 * (RFC 8620 §7.3) of ContactCard state changes; the cards are the vCards CardDAV serves (the
 * same ContactStore), converted per RFC 9555; bad input gets JMAP errors.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhotoBlobContactStore, photoBlobKey, photoPointers } from '#core/contacts/photo-blobs.ts';
import { checkVCard } from '#core/contacts/vcard.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const USING = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:contacts'];

describe.each(ADAPTER_KINDS)('JMAP for Contacts (%s adapters)', (kind) => {
  let sys: JmapTestSystem;
  let accountId: string;

  async function call(calls: Array<[string, Record<string, unknown>]>): Promise<Array<[string, any, string]>> {
    const res = await fetch(`${sys.base}/jmap/api`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ using: USING, methodCalls: calls.map(([m, a], i) => [m, { accountId, ...a }, `c${i}`]) }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as any).methodResponses;
  }
  async function one(method: string, args: Record<string, unknown>): Promise<any> {
    const [[name, result]] = await call([[method, args]]);
    expect(name, JSON.stringify(result)).toBe(method);
    return result;
  }
  const store = () => sys.ts.adapters.contacts;

  beforeAll(async () => {
    sys = await startJmapSystem({ plain: true, adapters: kind });
    const s = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    accountId = s.primaryAccounts['urn:ietf:params:jmap:contacts'];
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('advertises urn:ietf:params:jmap:contacts with its account capability (RFC 9610 §1.4.1)', async () => {
    const s = (await (await fetch(`${sys.base}/.well-known/jmap`, { headers: { Authorization: sys.auth } })).json()) as any;
    expect(s.capabilities['urn:ietf:params:jmap:contacts']).toEqual({});
    expect(s.accounts[accountId].accountCapabilities['urn:ietf:params:jmap:contacts']).toEqual({ maxAddressBooksPerCard: 1, mayCreateAddressBook: true });
  });

  it('AddressBook/get shows the default book (made on first use, as CardDAV does); /set creates, renames and destroys books (RFC 9610 §2)', async () => {
    const g = await one('AddressBook/get', { ids: null });
    expect(g.list).toEqual([
      {
        id: 'default',
        name: 'Contacts',
        description: null,
        sortOrder: 0,
        isDefault: true,
        isSubscribed: true,
        shareWith: null,
        myRights: { mayRead: true, mayWrite: true, mayShare: false, mayDelete: true },
      },
    ]);
    const s = await one('AddressBook/set', { create: { w: { name: 'Work', description: 'colleagues' } } });
    const workId = s.created.w.id as string;
    expect(workId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect((await store().getAddressBook(sys.user, workId))!.displayName).toBe('Work');
    const ch = await one('AddressBook/changes', { sinceState: g.state });
    expect(ch).toMatchObject({ created: [workId], updated: [], destroyed: [], newState: s.newState });
    const r = await one('AddressBook/set', { ifInState: s.newState, update: { [workId]: { name: 'Office' } } });
    expect(r.updated).toEqual({ [workId]: null });
    expect((await store().getAddressBook(sys.user, workId))!.displayName).toBe('Office');
    expect((await one('AddressBook/changes', { sinceState: s.newState })).updated).toEqual([workId]);
    // A stale ifInState is refused (RFC 8620 §5.3).
    const [[err, body]] = await call([['AddressBook/set', { ifInState: s.newState, update: { [workId]: { name: 'x' } } }]]);
    expect([err, body.type]).toEqual(['error', 'stateMismatch']);
    // A book with cards is kept unless onDestroyRemoveContents (RFC 9610 §2.3).
    await one('ContactCard/set', { create: { k: { addressBookIds: { [workId]: true }, name: { full: 'Kept Card' } } } });
    const d1 = await one('AddressBook/set', { destroy: [workId] });
    expect(d1.notDestroyed[workId].type).toBe('addressBookHasContents');
    const d2 = await one('AddressBook/set', { destroy: [workId], onDestroyRemoveContents: true });
    expect(d2.destroyed).toEqual([workId]);
    expect(await store().getAddressBook(sys.user, workId)).toBeNull();
    const bad = await one('AddressBook/set', { create: { e: { name: '' }, x: { name: 'A', colour: 'red' } }, update: { nope: { name: 'Y' } } });
    expect(bad.notCreated.e).toMatchObject({ type: 'invalidProperties', properties: ['name'] });
    expect(bad.notCreated.x).toMatchObject({ type: 'invalidProperties', properties: ['colour'] });
    expect(bad.notUpdated.nope.type).toBe('notFound');
  });

  it('refuses address books past 100 per user with overQuota, and makes the ones below it', async () => {
    const have = (await one('AddressBook/get', { ids: null })).list.length;
    const create = Object.fromEntries(Array.from({ length: 101 - have }, (_, i) => [`b${i}`, { name: `Book ${i}` }]));
    const s = await one('AddressBook/set', { create });
    expect(Object.keys(s.created)).toHaveLength(100 - have);
    expect(Object.values(s.notCreated).map((e: any) => e.type)).toEqual(['overQuota']);
    const d = await one('AddressBook/set', { destroy: Object.values(s.created).map((c: any) => c.id) });
    expect(d.destroyed).toHaveLength(100 - have);
  });

  it('ContactCard/set creates a card that is a vCard 4.0 in the store (what CardDAV serves); /get returns it as JSContact', async () => {
    const s = await one('ContactCard/set', {
      create: {
        ann: {
          addressBookIds: { default: true },
          name: {
            components: [
              { kind: 'given', value: 'Ann' },
              { kind: 'surname', value: 'Archer' },
            ],
            full: 'Ann Archer',
          },
          emails: { e1: { address: 'ann@example.net', contexts: { work: true }, pref: 1 } },
          phones: { p1: { number: '+1 555 0100', features: { mobile: true } } },
          anniversaries: { b: { kind: 'birth', date: { '@type': 'PartialDate', year: 1990, month: 5, day: 17 } } },
          speakToAs: { grammaticalGender: 'feminine' },
        },
      },
    });
    const { id, uid } = s.created.ann;
    expect(uid).toMatch(/^urn:uuid:/);
    const [info] = await store().listContacts(sys.user, 'default');
    const stored = await store().getContact(sys.user, 'default', info.name);
    const v = checkVCard(stored!.data);
    expect(v.version).toBe('4.0');
    expect(v.uid).toBe(uid);
    expect(v.fn).toBe('Ann Archer');
    expect(stored!.data.toString()).toMatch(/\r\nEMAIL;PROP-ID=e1;TYPE=work;PREF=1:ann@example\.net\r\n/);
    expect(stored!.data.toString()).toMatch(/\r\nBDAY;PROP-ID=b:19900517\r\n/);
    const g = await one('ContactCard/get', { ids: [id] });
    expect(g.list[0]).toMatchObject({
      id,
      addressBookIds: { default: true },
      '@type': 'Card',
      version: '1.0',
      uid,
      name: { full: 'Ann Archer' },
      emails: { e1: { address: 'ann@example.net', contexts: { work: true }, pref: 1 } },
      phones: { p1: { number: '+1 555 0100', features: { mobile: true } } },
      anniversaries: { b: { kind: 'birth', date: { '@type': 'PartialDate', year: 1990, month: 5, day: 17 } } },
      speakToAs: { grammaticalGender: 'feminine' },
    });
    const p = await one('ContactCard/get', { ids: [id, 'cnothere'], properties: ['name'] });
    expect(p.list).toEqual([{ id, name: g.list[0].name }]);
    expect(p.notFound).toEqual(['cnothere']);
    await one('ContactCard/set', { destroy: [id] });
  });

  it('a card put over CardDAV is read over JMAP, and a JMAP patch keeps its unknown vCard properties (RFC 9555 vCardProps)', async () => {
    const data = Buffer.from(
      'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dav-1\r\nFN:Dave Dav\r\nN:Dav;Dave;;;\r\nitem1.EMAIL;TYPE=INTERNET,HOME:dave@example.org\r\nitem1.X-ABLabel:Old\r\nX-PHONETIC-FIRST-NAME:Deiv\r\nEND:VCARD\r\n',
    );
    await store().putContact(sys.user, 'default', 'dav-1.vcf', { data, uid: 'dav-1' });
    const q = await one('ContactCard/query', { filter: { uid: 'dav-1' } });
    expect(q.ids).toHaveLength(1);
    const id = q.ids[0];
    const g = await one('ContactCard/get', { ids: [id] });
    expect(g.list[0]).toMatchObject({ uid: 'dav-1', name: { full: 'Dave Dav' }, emails: { e1: { address: 'dave@example.org', contexts: { private: true } } } });
    const u = await one('ContactCard/set', { update: { [id]: { 'name/full': 'David Dav', 'emails/e2': { address: 'david@example.com' } } } });
    expect(u.updated).toEqual({ [id]: null });
    const text = (await store().getContact(sys.user, 'default', 'dav-1.vcf'))!.data.toString();
    expect(text).toMatch(/\r\nFN:David Dav\r\n/);
    expect(text).toMatch(/\r\nitem1\.EMAIL;PROP-ID=e1;TYPE=home:dave@example\.org\r\n/);
    expect(text).toMatch(/\r\nitem1\.X-ABLABEL:Old\r\n/);
    expect(text).toMatch(/\r\nX-PHONETIC-FIRST-NAME:Deiv\r\n/);
    expect(text).toMatch(/\r\nEMAIL;PROP-ID=e2:david@example\.com\r\n/);
    expect(checkVCard(Buffer.from(text)).uid).toBe('dav-1');
    // uid and the book are fixed; a patch through a missing object is invalidPatch.
    const bad = await one('ContactCard/set', {
      update: { [id]: { uid: 'other' }, cnope: { 'name/full': 'x' } },
    });
    expect(bad.notUpdated[id]).toMatchObject({ type: 'invalidProperties', properties: ['uid'] });
    expect(bad.notUpdated.cnope.type).toBe('notFound');
    const bad2 = await one('ContactCard/set', { update: { [id]: { 'phones/p9/number': '1' } } });
    expect(bad2.notUpdated[id].type).toBe('invalidPatch');
    await one('ContactCard/set', { destroy: [id] });
    expect(await store().getContact(sys.user, 'default', 'dav-1.vcf')).toBeNull();
  });

  it('a stored card that is not a vCard 3.0/4.0 (put there by older software) is shown by id and uid, and a patch does not overwrite it', async () => {
    await one('AddressBook/get', { ids: null }); // the default book, made on first use
    const data = Buffer.from('BEGIN:VCARD\r\nVERSION:2.1\r\nUID:old-21\r\nFN:Old Format\r\nEND:VCARD\r\n');
    await store().putContact(sys.user, 'default', 'old-21.vcf', { data, uid: 'old-21' });
    const id = (await one('ContactCard/query', { filter: { uid: 'old-21' } })).ids[0];
    expect((await one('ContactCard/get', { ids: [id] })).list[0]).toEqual({
      id,
      addressBookIds: { default: true },
      '@type': 'Card',
      version: '1.0',
      uid: 'old-21',
    });
    const u = await one('ContactCard/set', { update: { [id]: { name: { full: 'New' } } } });
    expect(u.notUpdated[id].type).toBe('forbidden');
    expect((await store().getContact(sys.user, 'default', 'old-21.vcf'))!.data.equals(data)).toBe(true);
    await one('ContactCard/set', { destroy: [id] });
  });

  it('ContactCard/changes reports cards put, changed and deleted (also over CardDAV) from the change log (RFC 8620 §5.2)', async () => {
    const s0 = (await one('ContactCard/get', { ids: [] })).state;
    const c = await one('ContactCard/set', {
      create: { a: { name: { full: 'Change A' } }, b: { name: { full: 'Change B' } } },
    });
    const [a, b] = [c.created.a.id, c.created.b.id];
    const ch1 = await one('ContactCard/changes', { sinceState: s0 });
    expect([...ch1.created, ...ch1.updated].sort()).toEqual([a, b].sort());
    expect(ch1.destroyed).toEqual([]);
    expect(ch1.newState).toBe(c.newState);
    await one('ContactCard/set', { update: { [a]: { 'name/full': 'Change A2' } }, destroy: [b] });
    await store().putContact(sys.user, 'default', 'dav-2.vcf', {
      data: Buffer.from('BEGIN:VCARD\r\nVERSION:4.0\r\nUID:dav-2\r\nFN:Dav Two\r\nEND:VCARD\r\n'),
      uid: 'dav-2',
    });
    const ch2 = await one('ContactCard/changes', { sinceState: c.newState });
    const davId = (await one('ContactCard/query', { filter: { uid: 'dav-2' } })).ids[0];
    expect([...ch2.created, ...ch2.updated].sort()).toEqual([a, davId].sort());
    expect(ch2.destroyed).toEqual([b]);
    const none = await one('ContactCard/changes', { sinceState: ch2.newState });
    expect([none.created, none.updated, none.destroyed]).toEqual([[], [], []]);
    // maxChanges smaller than one book's changes, an unknown state: cannotCalculateChanges.
    const [[e1, b1]] = await call([['ContactCard/changes', { sinceState: s0, maxChanges: 1 }]]);
    expect([e1, b1.type]).toEqual(['error', 'cannotCalculateChanges']);
    const [[e2, b2]] = await call([['ContactCard/changes', { sinceState: 'garbage' }]]);
    expect([e2, b2.type]).toEqual(['error', 'cannotCalculateChanges']);
    await one('ContactCard/set', { destroy: [a, davId] });
  });

  it('ContactCard/query filters (inAddressBook, text, name, email, hasMember, kind) and sorts (RFC 9610 §3.3.1, §3.3.2); queryChanges says cannotCalculateChanges', async () => {
    const s = await one('ContactCard/set', {
      create: {
        z: {
          name: {
            components: [
              { kind: 'given', value: 'Zoe' },
              { kind: 'surname', value: 'Adams' },
            ],
          },
          emails: { e: { address: 'zoe@adams.test' } },
        },
        y: {
          name: {
            components: [
              { kind: 'given', value: 'Yann' },
              { kind: 'surname', value: 'Brown' },
            ],
          },
          organizations: { o: { name: 'Acme Corp' } },
        },
        g: { kind: 'group', name: { full: 'Friends' }, members: { 'urn:uuid:member-1': true } },
      },
    });
    const ids = { z: s.created.z.id, y: s.created.y.id, g: s.created.g.id };
    const q = async (args: Record<string, unknown>) => (await one('ContactCard/query', args)).ids;
    expect(await q({ filter: { email: 'ADAMS.test' } })).toEqual([ids.z]);
    expect(await q({ filter: { text: 'acme' } })).toEqual([ids.y]);
    expect(await q({ filter: { 'name/given': 'yan' } })).toEqual([ids.y]);
    expect(await q({ filter: { hasMember: 'urn:uuid:member-1' } })).toEqual([ids.g]);
    expect(await q({ filter: { kind: 'group' } })).toEqual([ids.g]);
    expect(await q({ filter: { operator: 'NOT', conditions: [{ kind: 'group' }] }, sort: [{ property: 'name/surname' }] })).toEqual([ids.z, ids.y]);
    expect(await q({ filter: { inAddressBook: 'default', name: 'o' }, sort: [{ property: 'name/given', isAscending: false }] })).toEqual([ids.z, ids.y]);
    const page = await one('ContactCard/query', { sort: [{ property: 'name/given' }], position: 1, limit: 1, calculateTotal: true });
    expect(page).toMatchObject({ position: 1, total: 3, canCalculateChanges: false });
    const [[e1, b1]] = await call([['ContactCard/query', { filter: { colour: 'red' } }]]);
    expect([e1, b1.type]).toEqual(['error', 'unsupportedFilter']);
    const [[e2, b2]] = await call([['ContactCard/query', { sort: [{ property: 'email' }] }]]);
    expect([e2, b2.type]).toEqual(['error', 'unsupportedSort']);
    const [[e3, b3]] = await call([['ContactCard/queryChanges', { sinceQueryState: page.queryState }]]);
    expect([e3, b3.type]).toEqual(['error', 'cannotCalculateChanges']);
    await one('ContactCard/set', { destroy: Object.values(ids) });
  });

  it('refuses bad cards with invalidProperties or tooLarge and stores nothing; never a server error', async () => {
    const before = (await store().listContacts(sys.user, 'default')).length;
    const s = await one('ContactCard/set', {
      create: {
        a: { emails: { e: { address: 42 } } },
        b: { anniversaries: { x: { kind: 'birth', date: 'yesterday' } } },
        c: { addressBookIds: { nope: true } },
        d: { media: { m: { kind: 'photo', uri: 'data:image/jpeg;base64,' + 'A'.repeat(1_100_000) } } },
        e: { '@type': 'Group' },
        f: { emails: { 'bad id!': { address: 'x@y' } } },
        g: { id: 'mine' },
        h: { vCardProps: [['end', {}, 'unknown', 'VCARD']] },
        i: { vCardProps: [['x-a', { 'x:y': 'z' }, 'unknown', 'v']] },
        j: { vCardProps: [['x-a', { group: 'a.b:c' }, 'unknown', 'v']] },
      },
    });
    expect(s.notCreated.a).toMatchObject({ type: 'invalidProperties', properties: ['emails/e/address'] });
    expect(s.notCreated.b).toMatchObject({ type: 'invalidProperties', properties: ['anniversaries/x/date'] });
    expect(s.notCreated.c).toMatchObject({ type: 'invalidProperties', properties: ['addressBookIds'] });
    expect(s.notCreated.d.type).toBe('tooLarge');
    expect(s.notCreated.e).toMatchObject({ type: 'invalidProperties', properties: ['@type'] });
    expect(s.notCreated.f).toMatchObject({ type: 'invalidProperties', properties: ['emails/bad id!'] });
    expect(s.notCreated.g).toMatchObject({ type: 'invalidProperties', properties: ['id'] });
    // Unknown vCard properties cannot frame a second card or smuggle a line (RFC 9555 §3.3.1 shapes only).
    for (const k of ['h', 'i', 'j']) expect(s.notCreated[k]).toMatchObject({ type: 'invalidProperties', properties: ['vCardProps'] });
    expect(s.created).toBeNull();
    expect((await store().listContacts(sys.user, 'default')).length).toBe(before);
  });

  it('a photo uploaded as a blob (RFC 8620 §6.1) and named by blobId in media is stored inline (a data: URI CardDAV clients read); a foreign blobId is invalidProperties', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const up = await fetch(`${sys.base}/jmap/upload/${accountId}/`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'image/png' },
      body: png,
    });
    expect(up.status).toBe(201);
    const { blobId } = (await up.json()) as { blobId: string };
    const s = await one('ContactCard/set', {
      create: {
        p: { name: { full: 'With Photo' }, media: { ph: { kind: 'photo', blobId } } },
        bad: { name: { full: 'Bad Photo' }, media: { ph: { kind: 'photo', blobId: 'Uhttps-elsewhere' } } },
      },
    });
    expect(s.notCreated.bad).toMatchObject({ type: 'invalidProperties', properties: ['media/ph/blobId'] });
    const id = s.created.p.id;
    const g = await one('ContactCard/get', { ids: [id], properties: ['media'] });
    expect(g.list[0].media).toEqual({ ph: { kind: 'photo', uri: `data:image/png;base64,${png.toString('base64')}` } });
    const [info] = (await store().listContacts(sys.user, 'default')).filter((c) => c.uid !== 'dav-2');
    const text = (await store().getContact(sys.user, 'default', info.name))!.data.toString();
    expect(text).toContain(`PHOTO;PROP-ID=ph:data:image/png;base64,${png.toString('base64')}`);
    await one('ContactCard/set', { destroy: [id] });
  });

  it('a 50 KiB photo named by blobId is stored as a photo blob beside the card (issue 19) and read back over JMAP as the same data: URI; destroying the card deletes the blob', async () => {
    const jpeg = randomBytes(50 * 1024);
    const up = await fetch(`${sys.base}/jmap/upload/${accountId}/`, {
      method: 'POST',
      headers: { Authorization: sys.auth, 'Content-Type': 'image/jpeg' },
      body: jpeg,
    });
    expect(up.status).toBe(201);
    const { blobId } = (await up.json()) as { blobId: string };
    const s = await one('ContactCard/set', { create: { p: { name: { full: 'Big Photo' }, media: { ph: { kind: 'photo', blobId } } } } });
    const id = s.created.p.id;
    const b64 = jpeg.toString('base64');
    const g = await one('ContactCard/get', { ids: [id], properties: ['media'] });
    expect(g.list[0].media.ph.kind).toBe('photo');
    expect(g.list[0].media.ph.uri).toMatch(/^data:[a-z/-]+;base64,/);
    expect(g.list[0].media.ph.uri.slice(g.list[0].media.ph.uri.indexOf(',') + 1)).toBe(b64);
    const info = (await store().listContacts(sys.user, 'default')).find((c) => c.uid === s.created.p.uid)!;
    expect(store()).toBeInstanceOf(PhotoBlobContactStore);
    const stored = (await (store() as PhotoBlobContactStore).inner.getContact(sys.user, 'default', info.name))!;
    const [pointer] = photoPointers(stored.data);
    const key = photoBlobKey(sys.user, 'default', info.name, pointer!);
    expect(await sys.ts.adapters.blobs.exists(key)).toBe(true);
    expect((await store().getContact(sys.user, 'default', info.name))!.data.toString().replace(/\r\n[ \t]/g, '')).toContain(b64);
    await one('ContactCard/set', { destroy: [id] });
    expect(await sys.ts.adapters.blobs.exists(key)).toBe(false);
  });

  it('a media uri in the server’s photo-blob scheme is invalidProperties and stores nothing', async () => {
    const before = (await store().listContacts(sys.user, 'default')).length;
    const s = await one('ContactCard/set', {
      create: { x: { name: { full: 'Pointer' }, media: { ph: { kind: 'photo', uri: 'x-cloudmail-photo:00000000-0000-0000-0000-000000000000' } } } },
    });
    expect(s.notCreated.x).toMatchObject({ type: 'invalidProperties' });
    expect(await store().listContacts(sys.user, 'default')).toHaveLength(before);
  });

  it('pushes a ContactCard state change over the event source when a card is made (RFC 8620 §7.3)', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${sys.base}/jmap/eventsource?types=ContactCard&closeafter=state&ping=0`, {
      headers: { Authorization: sys.auth },
      signal: ctrl.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const made = await one('ContactCard/set', { create: { p: { name: { full: 'Pushed' } } } });
    let text = '';
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ctrl.abort();
    const data = JSON.parse(/data: (.*)\n/.exec(text)![1]);
    expect(data.changed[accountId].ContactCard).toBe(made.newState);
    await one('ContactCard/set', { destroy: [made.created.p.id] });
  });

  it('pushes a ContactCard state change when a card is PUT over CardDAV (the same store, the same notifications)', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${sys.base}/jmap/eventsource?types=ContactCard&closeafter=state&ping=0`, {
      headers: { Authorization: sys.auth },
      signal: ctrl.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const put = await fetch(`${sys.base}/dav/addressbooks/${sys.user}/default/pushed-dav.vcf`, {
      method: 'PUT',
      headers: { Authorization: sys.auth, 'Content-Type': 'text/vcard' },
      body: 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:pushed-dav\r\nFN:Pushed Dav\r\nEND:VCARD\r\n',
    });
    expect(put.status).toBe(201);
    let text = '';
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    ctrl.abort();
    const data = JSON.parse(/data: (.*)\n/.exec(text)![1]);
    expect(data.changed[accountId].ContactCard).toBe((await one('ContactCard/get', { ids: [] })).state);
    await store().deleteContact(sys.user, 'default', 'pushed-dav.vcf');
  });
});
