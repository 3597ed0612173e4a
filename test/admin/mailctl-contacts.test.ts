/**
 * `mailctl contacts import|export` as a user runs it (a process on the local data directory),
 * and the CardDAV records of `mailctl domain show` (RFC 6764).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PhotoBlobContactStore, photoBlobKey, photoPointers } from '#core/contacts/photo-blobs.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { runMailctl, type MailctlIO } from '#core/admin/mailctl.ts';
import { loadConfig } from '#core/config.ts';
import { run } from '../support/clients.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAILCTL = path.join(ROOT, 'bin/mailctl.js');
const USER = 'alice@example.test';

describe('mailctl contacts (local)', () => {
  let dataDir: string;
  const ctl = (args: string[], input?: string) => run(process.execPath, [MAILCTL, ...args], { input, env: { ...process.env, MAIL_DATA_DIR: dataDir } });

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailctl-contacts-'));
    expect((await ctl(['domain', 'add', 'example.test'])).code).toBe(0);
    expect((await ctl(['user', 'add', USER], 'pw\n')).code).toBe(0);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const one = 'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:one\r\nFN:One Person\r\nEMAIL:one@example.test\r\nEND:VCARD\r\n';
  const two = 'BEGIN:VCARD\nVERSION:3.0\nFN:Two Person\nN:Person;Two;;;\nEND:VCARD\n'; // vCard 3.0, no UID, LF line ends

  it('imports several vCards from one file (a 3.0 card without UID gets one and is stored as 4.0), exports them byte for byte, and a second import changes nothing', async () => {
    const file = path.join(dataDir, 'in.vcf');
    writeFileSync(file, one + two);
    const r = await ctl(['contacts', 'import', USER, file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`imported 2 of 2 cards into ${USER}/default: 2 new, 0 replaced, 0 unchanged, 0 skipped\n`);

    const adapters = await createLocalAdapters({ dataDir });
    try {
      const cards = await adapters.contacts.getContacts(
        USER,
        'default',
        (await adapters.contacts.listContacts(USER, 'default')).map((c) => c.name),
      );
      const first = cards.find((c) => c.uid === 'urn:uuid:one')!;
      expect(first.data.toString()).toBe(one);
      const second = cards.find((c) => c.uid !== 'urn:uuid:one')!;
      expect(second.data.toString()).toMatch(/^BEGIN:VCARD\r\nVERSION:4\.0\r\nUID:[0-9a-f-]{36}\r\nFN:Two Person\r\nN:Person;Two;;;\r\nEND:VCARD\r\n$/);
    } finally {
      await adapters.close();
    }

    const out = path.join(dataDir, 'out.vcf');
    expect((await ctl(['contacts', 'export', USER, out])).stdout).toBe(`exported 2 cards of ${USER}/default to ${out}\n`);
    const exported = readFileSync(out, 'utf8');
    expect(exported).toContain(one);
    expect(exported).toMatch(/FN:Two Person\r\n/);

    const again = await ctl(['contacts', 'import', USER, out]);
    expect(again.stdout).toBe(`imported 0 of 2 cards into ${USER}/default: 0 new, 0 replaced, 2 unchanged, 0 skipped\n`);
  });

  it('contacts collect shows and sets whether recipients of sent mail are collected (default on); a bad value is a usage error; user remove drops the setting', async () => {
    const other = 'collect@example.test';
    expect((await ctl(['user', 'add', other], 'pw\n')).code).toBe(0);
    expect((await ctl(['contacts', 'collect', other])).stdout).toBe(`collecting recipients for ${other}: on\n`);
    expect((await ctl(['contacts', 'collect', other, 'off'])).stdout).toBe(`collecting recipients for ${other}: off\n`);
    expect((await ctl(['contacts', 'collect', other])).stdout).toBe(`collecting recipients for ${other}: off\n`);
    const bad = await ctl(['contacts', 'collect', other, 'maybe']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/on or off/);
    expect((await ctl(['contacts', 'collect', 'nobody@example.test', 'off'])).code).not.toBe(0);
    expect((await ctl(['user', 'remove', other])).code).toBe(0);
    expect((await ctl(['user', 'add', other], 'pw\n')).code).toBe(0);
    expect((await ctl(['contacts', 'collect', other])).stdout).toBe(`collecting recipients for ${other}: on\n`);
  });

  it('imports a card with a 50 KiB photo into a photo blob, exports it byte for byte; user remove deletes the blob with the cards', async () => {
    const who = 'photos@example.test';
    expect((await ctl(['user', 'add', who], 'pw\n')).code).toBe(0);
    const line = `PHOTO:data:image/jpeg;base64,${randomBytes(50 * 1024).toString('base64')}`;
    const pic = `BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:pic\r\nFN:Pic\r\n${(line.match(/.{1,74}/g) ?? []).join('\r\n ')}\r\nEND:VCARD\r\n`;
    const file = path.join(dataDir, 'pic.vcf');
    writeFileSync(file, pic);
    expect((await ctl(['contacts', 'import', who, file])).code).toBe(0);
    let key: string;
    const adapters = await createLocalAdapters({ dataDir });
    try {
      const inner = (adapters.contacts as PhotoBlobContactStore).inner;
      const [info] = await inner.listContacts(who, 'default');
      const [id] = photoPointers((await inner.getContact(who, 'default', info!.name))!.data);
      key = photoBlobKey(who, 'default', info!.name, id!);
      expect(await adapters.blobs.exists(key)).toBe(true);
    } finally {
      await adapters.close();
    }
    const out = path.join(dataDir, 'pic-out.vcf');
    expect((await ctl(['contacts', 'export', who, out])).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(pic);
    expect((await ctl(['user', 'remove', who])).code).toBe(0);
    const after = await createLocalAdapters({ dataDir });
    try {
      expect(await after.blobs.exists(key)).toBe(false);
    } finally {
      await after.close();
    }
  });

  it('skips and names invalid cards (exit 1), imports the rest; a file that is not vCards is a usage error; an unknown user or book is an error', async () => {
    const file = path.join(dataDir, 'mixed.vcf');
    writeFileSync(file, 'BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Old\r\nEND:VCARD\r\n' + one.replace('One Person', 'One Renamed'));
    const r = await ctl(['contacts', 'import', USER, file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('card 1: skipped: vCard version 2.1 is not supported');
    expect(r.stdout).toContain('0 new, 1 replaced');

    writeFileSync(file, 'hello\n');
    const notVcf = await ctl(['contacts', 'import', USER, file]);
    expect(notVcf.code).toBe(2);
    expect(notVcf.stderr).toContain('text outside BEGIN:VCARD');
    expect((await ctl(['contacts', 'import', 'nobody@example.test', file])).stderr).toContain('no such user');
    expect((await ctl(['contacts', 'export', USER, path.join(dataDir, 'x.vcf'), '--book', 'work'])).stderr).toContain('has no address book work');
  });
});

describe('mailctl domain show: CardDAV discovery records (RFC 6764)', () => {
  it('prints _carddavs._tcp SRV and TXT path=/dav/, and the empty _carddav._tcp SRV (no CardDAV without TLS)', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailctl-contacts-'));
    const adapters = await createLocalAdapters({ dataDir });
    try {
      await adapters.index.addDomain('example.test');
      const out: string[] = [];
      const io: MailctlIO = { out: (l) => out.push(l), err: (l) => out.push(l), readPassword: async () => '', writeRaw: () => {} };
      const config = loadConfig({ MAIL_RUNTIME: 'local', MAIL_HOSTNAME: 'mx.test', MAIL_DATA_DIR: dataDir });
      expect(await runMailctl(['domain', 'show', 'example.test'], adapters, io, undefined, config)).toBe(0);
      expect(out).toContain(`_carddavs._tcp.example.test. SRV 0 1 ${config.http.httpsPort} mx.test.`);
      expect(out).toContain('_carddavs._tcp.example.test. TXT "path=/dav/"');
      expect(out).toContain('_carddav._tcp.example.test. SRV 0 0 0 .');
      out.length = 0;
      expect(await runMailctl(['domain', 'show', 'example.test'], adapters, io, undefined, { ...config, runtime: 'aws' })).toBe(0);
      expect(out).toContain('_carddavs._tcp.example.test. SRV 0 1 443 mx.test.');
    } finally {
      await adapters.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
