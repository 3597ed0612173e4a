/**
 * CardDAV with a client none of us wrote: Debian's vdirsyncer syncs a local vCard directory
 * with our server both ways (RFC 6352), discovering the address book from the server's root
 * (RFC 6764 well-known URI, current-user-principal, addressbook-home-set). The server side is
 * read and changed through the ContactStore (what the webmail and JMAP use). vdirsyncer writes
 * the vCard 3.0 it finds in the local files: the server stores 4.0 and serves the card back as
 * 3.0; a 4.0 file is stored byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PhotoBlobContactStore, photoBlobKey, photoPointers } from '#core/contacts/photo-blobs.ts';
import { createLogger } from '#core/log.ts';
import { run } from '../support/clients.ts';
import { ADAPTER_KINDS, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { VDIRSYNCER, describeWithVdirsyncer, writeVdirsyncerConfig } from '../support/vdirsyncer.ts';

const USER = 'alice@example.test';

const vcard = (uid: string, fn: string) => `BEGIN:VCARD\r\nVERSION:3.0\r\nUID:${uid}\r\nFN:${fn}\r\nN:${fn};;;;\r\nEMAIL:${uid}@example.test\r\nEND:VCARD\r\n`;
/** The same card in vCard 4.0 (what the server stores for it, and what JMAP and the webmail write). */
const vcard4 = (uid: string, fn: string) => vcard(uid, fn).replace('VERSION:3.0', 'VERSION:4.0');

for (const kind of ADAPTER_KINDS)
  describeWithVdirsyncer(`CardDAV (${kind}): vdirsyncer syncs a local vCard directory both ways (RFC 6352, RFC 6764)`, () => {
    let sys: TestSystem;
    let work: string;
    let local: string;
    const requests: Array<{ method: string; path: string; status: number }> = [];

    const sync = async () => {
      const before = requests.length;
      const r = await run(VDIRSYNCER, ['-c', path.join(work, 'config'), 'sync'], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      return { output: r.stdout + r.stderr, requests: requests.slice(before) };
    };
    const store = () => sys.adapters.contacts;

    beforeAll(async () => {
      const logger = createLogger({}, 'debug', (line) => {
        const rec = JSON.parse(line) as { msg: string; method?: string; path?: string; status?: number };
        if (rec.msg === 'dav request') requests.push({ method: rec.method!, path: rec.path!, status: rec.status! });
      });
      sys = await startTestSystem({ adapters: kind, logger });
      await sys.addUser(USER, 'alice-secret');
      work = await mkdtemp(path.join(tmpdir(), 'vdirsyncer-'));
      await writeFile(path.join(work, 'cert.pem'), sys.system.deps.tls.cert);
      await writeVdirsyncerConfig(work, { url: `https://127.0.0.1:${sys.port('https')}/`, user: USER, password: 'alice-secret', caFile: `${work}/cert.pem` });
      // Discovery from the server root: the default book ("Contacts", id default) is created on
      // first use and found through the principal; the answer creates the local directory.
      const d = await run(VDIRSYNCER, ['-c', path.join(work, 'config'), 'discover'], { input: 'y\ny\n', timeoutMs: 60_000 });
      expect(d.code, d.stdout + d.stderr).toBe(0);
      local = path.join(work, 'contacts', 'default');
      expect(existsSync(local)).toBe(true);
    }, 120_000);

    afterAll(async () => {
      await sys?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('discovered the book through /.well-known/carddav, the principal and the home set', () => {
      const paths = requests.map((r) => `${r.method} ${r.path}`);
      expect(paths.some((p) => p.endsWith(' /.well-known/carddav'))).toBe(true);
      expect(paths).toContain(`PROPFIND /dav/principals/${USER}/`);
      expect(paths).toContain(`PROPFIND /dav/addressbooks/${USER}/`);
    });

    it('uploads a contact created locally (vCard 3.0): the store holds it as 4.0 and remembers 3.0; the local file stays as it was', async () => {
      const data = vcard('local-1', 'Local One');
      await writeFile(path.join(local, 'local-1.vcf'), data);
      const s = await sync();
      expect(s.requests.some((r) => r.method === 'PUT' && r.status === 201)).toBe(true);
      const cards = await store().listContacts(USER, 'default');
      expect(cards.map((c) => [c.uid, c.clientVersion])).toEqual([['local-1', '3.0']]);
      const stored = await store().getContact(USER, 'default', cards[0].name);
      expect(stored!.data.toString()).toBe(vcard4('local-1', 'Local One'));
      // The PUT had no ETag (RFC 6352 §6.3.2.3), so the next sync fetches the card: as 3.0, the same card.
      await sync();
      expect(await readdir(local)).toEqual(['local-1.vcf']);
      expect(await readFile(path.join(local, 'local-1.vcf'), 'utf8')).toBe(data);
    });

    it('downloads a contact created on the server and one changed there', async () => {
      const [uploaded] = await store().listContacts(USER, 'default');
      // Changed as JMAP and the webmail do (vCard 4.0, no version given: the card's 3.0 stays).
      await store().putContact(USER, 'default', uploaded.name, { data: Buffer.from(vcard4('local-1', 'Local One Edited')), uid: 'local-1' });
      const fresh = vcard4('server-1', 'Server One');
      await store().putContact(USER, 'default', 'server-1.vcf', { data: Buffer.from(fresh), uid: 'server-1' });
      await sync();
      const files = await readdir(local);
      const contents = await Promise.all(files.map((f) => readFile(path.join(local, f), 'utf8')));
      // The card vdirsyncer wrote in 3.0 comes back in 3.0; the one made on the server in 4.0, byte for byte.
      expect(contents.sort()).toEqual([vcard('local-1', 'Local One Edited'), fresh].sort());
    });

    it('propagates deletions both ways', async () => {
      const files = await readdir(local);
      const byUid = new Map<string, string>();
      for (const f of files) byUid.set(/UID:(.*)\r?\n/.exec(await readFile(path.join(local, f), 'utf8'))![1], f);
      expect([...byUid.keys()].sort()).toEqual(['local-1', 'server-1']);
      await unlink(path.join(local, byUid.get('local-1')!)); // deleted locally
      await store().deleteContact(USER, 'default', 'server-1.vcf'); // deleted on the server
      const s = await sync();
      expect(s.requests.some((r) => r.method === 'DELETE' && r.status === 204)).toBe(true);
      expect(await store().listContacts(USER, 'default')).toEqual([]);
      expect(await readdir(local)).toEqual([]);
    });

    it('a vCard 4.0 file is stored byte for byte with the ETag in the PUT answer, so nothing is fetched back', async () => {
      const data = vcard4('four', 'Four Local');
      await writeFile(path.join(local, 'four.vcf'), data);
      const s = await sync();
      expect(s.requests.filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([201]);
      const [c] = await store().listContacts(USER, 'default');
      expect((await store().getContact(USER, 'default', c.name))!.data.toString()).toBe(data);
      const again = await sync();
      expect(again.requests.filter((r) => r.method !== 'PROPFIND')).toEqual([]);
    });

    it('a vCard 4.0 file with a 50 KiB photo: the photo is stored as a blob, the card served byte for byte (no fetch back, a second sync changes nothing); a local delete deletes the blob', async () => {
      const line = `PHOTO;MEDIATYPE=image/jpeg:data:image/jpeg;base64,${randomBytes(50 * 1024).toString('base64')}`;
      const data = vcard4('pic', 'Pic Local').replace('END:VCARD', `${(line.match(/.{1,74}/g) ?? []).join('\r\n ')}\r\nEND:VCARD`);
      await writeFile(path.join(local, 'pic.vcf'), data);
      const s = await sync();
      expect(s.requests.filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([201]);
      const c = (await store().listContacts(USER, 'default')).find((x) => x.uid === 'pic')!;
      expect((await store().getContact(USER, 'default', c.name))!.data.toString()).toBe(data);
      const stored = (await (store() as PhotoBlobContactStore).inner.getContact(USER, 'default', c.name))!;
      const [id] = photoPointers(stored.data);
      const key = photoBlobKey(USER, 'default', c.name, id!);
      expect(await sys.adapters.blobs.exists(key)).toBe(true);
      const again = await sync();
      expect(again.requests.filter((r) => r.method !== 'PROPFIND')).toEqual([]);
      expect(await readFile(path.join(local, 'pic.vcf'), 'utf8')).toBe(data);
      await unlink(path.join(local, 'pic.vcf'));
      const del = await sync();
      expect(del.requests.filter((r) => r.method === 'DELETE').map((r) => r.status)).toEqual([204]);
      expect(await sys.adapters.blobs.exists(key)).toBe(false);
    });

    it('a second sync with no changes transfers nothing: only PROPFIND listings, no GET, PUT, DELETE or multiget; the sync token stays', async () => {
      await writeFile(path.join(local, 'keep.vcf'), vcard('keep', 'Keep Me'));
      await sync();
      await sync(); // fetches the 3.0 card its PUT gave no ETag for
      const token = (await store().getAddressBook(USER, 'default'))!.syncToken;
      const s = await sync();
      expect(s.requests.filter((r) => r.method !== 'PROPFIND')).toEqual([]);
      expect(s.requests.length).toBeGreaterThan(0);
      expect((await store().getAddressBook(USER, 'default'))!.syncToken).toBe(token);
      expect(s.output).not.toMatch(/Copying|Deleting/);
    });
  });
