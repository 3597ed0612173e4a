/**
 * JMAP for Contacts and CardDAV on one address book, with two clients none of us wrote: Python
 * jmapc (which has no contacts classes: its CustomMethod sends RFC 9610 calls as given) and
 * Debian's vdirsyncer (CardDAV, RFC 6352). A card made over JMAP is pulled by vdirsyncer; a card
 * vdirsyncer uploads is read over JMAP; a JMAP edit reaches the local file with the card's
 * unknown properties kept (RFC 9555 vCardProps); a JMAP destroy deletes the local file.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { startJmapSystem, type JmapTestSystem } from './support/jmap-server.ts';

const VENV_PYTHON = path.resolve(import.meta.dirname, '../../.tools/venv/bin/python');

const JMAPC = String.raw`
import json, sys
from jmapc import Client
from jmapc.methods import CustomMethod
host, user, password, method, args = sys.argv[1:6]
c = Client.create_with_password(host=host, user=user, password=password)
m = CustomMethod(data={"accountId": c.account_id, **json.loads(args)})
m.jmap_method = method
m.using = {"urn:ietf:params:jmap:contacts"}
res = c.request(m)
print(json.dumps(res.data))
`;
import { VDIRSYNCER, describeWithVdirsyncer, writeVdirsyncerConfig } from '../support/vdirsyncer.ts';

describeWithVdirsyncer('JMAP for Contacts (jmapc) and CardDAV (vdirsyncer) on one address book', () => {
  let sys: JmapTestSystem;
  let work: string;
  let local: string;
  let caFile: string;

  async function jmapc(method: string, args: Record<string, unknown>): Promise<any> {
    const r = await run(VENV_PYTHON, ['-c', JMAPC, new URL(sys.base).host, sys.user, sys.password, method, JSON.stringify(args)], {
      timeoutMs: 60_000,
      env: { ...process.env, REQUESTS_CA_BUNDLE: caFile },
    });
    if (r.code !== 0) throw new Error(`jmapc ${method} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }
  async function sync(): Promise<void> {
    const r = await run(VDIRSYNCER, ['-c', path.join(work, 'config'), 'sync'], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }
  async function localCards(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const f of await readdir(local)) {
      const text = await readFile(path.join(local, f), 'utf8');
      out.set(/\nUID:(.*?)\r?\n/.exec(text)![1], text);
    }
    return out;
  }

  beforeAll(async () => {
    sys = await startJmapSystem();
    work = await mkdtemp(path.join(tmpdir(), 'jmap-vdirsyncer-'));
    caFile = path.join(work, 'cert.pem');
    await writeFile(caFile, sys.ts.system.deps.tls.cert);
    await writeVdirsyncerConfig(work, { url: `${sys.base}/`, user: sys.user, password: sys.password, caFile });
    const d = await run(VDIRSYNCER, ['-c', path.join(work, 'config'), 'discover'], { input: 'y\ny\n', timeoutMs: 60_000 });
    expect(d.code, d.stdout + d.stderr).toBe(0);
    local = path.join(work, 'contacts', 'default');
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a ContactCard made with jmapc is pulled by vdirsyncer as a vCard 4.0 with its name, email and phone', async () => {
    const s = await jmapc('ContactCard/set', {
      create: {
        n: {
          addressBookIds: { default: true },
          uid: 'urn:uuid:0b4d1f3c-3d55-4ae2-9b1e-7a3b7c1f0001',
          name: {
            full: 'Jemma Map',
            components: [
              { kind: 'given', value: 'Jemma' },
              { kind: 'surname', value: 'Map' },
            ],
          },
          emails: { e1: { address: 'jemma@example.net', contexts: { private: true } } },
          phones: { p1: { number: '+44 20 7946 0000', features: { voice: true } } },
        },
      },
    });
    expect(s.notCreated).toBeNull();
    await sync();
    const card = (await localCards()).get('urn:uuid:0b4d1f3c-3d55-4ae2-9b1e-7a3b7c1f0001');
    expect(card).toBeDefined();
    expect(card).toMatch(/\r\nVERSION:4\.0\r\n/);
    expect(card).toMatch(/\r\nFN:Jemma Map\r\n/);
    expect(card).toMatch(/\r\nN:Map;Jemma;;;\r\n/);
    expect(card).toMatch(/\r\nEMAIL;PROP-ID=e1;TYPE=home:jemma@example\.net\r\n/);
    expect(card).toMatch(/\r\nTEL;PROP-ID=p1;TYPE=voice:\+44 20 7946 0000\r\n/);
  });

  it('a card vdirsyncer uploads (vCard 3.0) is read with jmapc as JSContact; a jmapc edit comes back to the local file in 3.0 keeping its X- property; a destroy deletes it', async () => {
    const data =
      'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:vdir-1\r\nFN:Vera Dirsync\r\nN:Dirsync;Vera;;;\r\nEMAIL;TYPE=INTERNET,WORK:vera@example.org\r\nX-CUSTOM-THING:keep me\r\nEND:VCARD\r\n';
    await writeFile(path.join(local, 'vdir-1.vcf'), data);
    await sync();
    const q = await jmapc('ContactCard/query', { filter: { email: 'vera@example.org' } });
    expect(q.ids).toHaveLength(1);
    const g = await jmapc('ContactCard/get', { ids: q.ids });
    expect(g.list[0]).toMatchObject({
      uid: 'vdir-1',
      addressBookIds: { default: true },
      name: {
        full: 'Vera Dirsync',
        components: [
          { kind: 'given', value: 'Vera' },
          { kind: 'surname', value: 'Dirsync' },
        ],
      },
      emails: { e1: { address: 'vera@example.org', contexts: { work: true } } },
      vCardProps: [['x-custom-thing', {}, 'unknown', 'keep me']],
    });
    const u = await jmapc('ContactCard/set', { update: { [q.ids[0]]: { 'name/full': 'Vera D. Sync', notes: { n1: { note: 'met at the conference' } } } } });
    expect(u.notUpdated).toBeNull();
    await sync();
    // The card was written in 3.0, so vdirsyncer (which names no version) reads it in 3.0 (PROP-ID is 4.0 only).
    const edited = (await localCards()).get('vdir-1')!;
    expect(edited).toMatch(/\r\nVERSION:3\.0\r\n/);
    expect(edited).toMatch(/\r\nFN:Vera D\. Sync\r\n/);
    expect(edited).toMatch(/\r\nNOTE:met at the conference\r\n/);
    expect(edited).toMatch(/\r\nX-CUSTOM-THING:keep me\r\n/);
    expect(edited).toMatch(/\r\nEMAIL;TYPE=work:vera@example\.org\r\n/);
    await jmapc('ContactCard/set', { destroy: q.ids });
    await sync();
    expect((await localCards()).has('vdir-1')).toBe(false);
    expect((await localCards()).has('urn:uuid:0b4d1f3c-3d55-4ae2-9b1e-7a3b7c1f0001')).toBe(true);
  });
});
