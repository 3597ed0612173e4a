/**
 * CardDAV on the local adapters (SQLite): an address book of 5,000 contacts synced the way a
 * sync-collection client (DAVx5) does it, over HTTPS with one keep-alive connection:
 *  - full sync: REPORT sync-collection with an empty token (hrefs and ETags), then
 *    addressbook-multiget of every card in batches of 100, address-data included;
 *  - incremental sync after one card changed: REPORT sync-collection with the token, then a
 *    multiget of the one changed card;
 *  - the PROPFIND Depth 1 listing (what vdirsyncer asks on every sync).
 * Not part of the test suite; `npm run bench` runs it (bench/run.ts), or alone:
 * `node bench/carddav.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { hashPassword } from '#core/accounts/password.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { loadConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import { createMailboxEvents } from '#core/mailbox/events.ts';
import { createAuthThrottle } from '#listeners/auth-throttle.ts';
import { cardDavRoutes } from '#listeners/dav/carddav-routes.ts';
import { startHttpListeners } from '#listeners/http/http-listener.ts';
import { PROXY_DISABLED } from '#listeners/proxy-protocol.ts';
import { loadTls } from '#listeners/tls.ts';

const CONTACTS = 5_000;
const BATCH = 100;
const USER = 'bench@example.test';
const PASSWORD = 'bench password';

function card(i: number, edit = ''): Buffer {
  return Buffer.from(
    `BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:bench-${i}\r\nFN:Contact ${i}${edit}\r\nN:${i};Contact;;;\r\n` +
      `EMAIL;TYPE=work:contact${i}@example.test\r\nTEL;TYPE=cell:+1 555 ${String(i).padStart(7, '0')}\r\n` +
      `ORG:Company ${i % 50}\r\nNOTE:Met at conference ${i % 17}\\, talked about topic ${i % 31}.\r\nEND:VCARD\r\n`,
  );
}

export async function benchCardDav(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-carddav-'));
  const config = loadConfig({ MAIL_RUNTIME: 'local', MAIL_DATA_DIR: dataDir, MAIL_HOSTNAME: 'bench.test', HTTPS_PORT: '0', HTTP_PORT: '0' });
  const adapters = await createLocalAdapters({ dataDir });
  try {
    await adapters.index.addDomain('example.test');
    await adapters.index.addUser({ address: USER, passwordHash: await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 }) });
    await adapters.contacts.createAddressBook(USER, { id: 'default', displayName: 'Contacts' });
    for (let i = 0; i < CONTACTS; i++) await adapters.contacts.putContact(USER, 'default', `c${i}.vcf`, { data: card(i), uid: `urn:uuid:bench-${i}` });
    const authThrottle = createAuthThrottle(config.authThrottle);
    const deps = { adapters, config, tls: await loadTls(config), logger: silentLogger, events: createMailboxEvents(), proxy: PROXY_DISABLED, authThrottle };
    const routes = cardDavRoutes({ index: adapters.index, contacts: adapters.contacts, throttle: authThrottle, allowPlaintextAuthOnLoopback: false });
    const listeners = await startHttpListeners(deps, routes, { httpsPort: 0, httpPort: null });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    let bytes = 0;
    const request = (method: string, p: string, body: string, headers: Record<string, string> = {}) =>
      new Promise<string>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port: listeners[0].port,
            method,
            path: p,
            agent,
            headers: { authorization: auth, 'content-type': 'application/xml; charset=utf-8', ...headers },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              bytes += text.length;
              if (res.statusCode !== 207) reject(new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 200)}`));
              else resolve(text);
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const book = `/dav/addressbooks/${USER}/default/`;
    const syncCollection = (token: string) =>
      request(
        'REPORT',
        book,
        `<d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`,
      );
    const multiget = (hrefs: string[]) =>
      request(
        'REPORT',
        book,
        `<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>${hrefs.map((h) => `<d:href>${h}</d:href>`).join('')}</c:addressbook-multiget>`,
      );
    const hrefsOf = (xml: string) => [...xml.matchAll(/<d:response><d:href>([^<]+)<\/d:href><d:propstat>/g)].map((m) => m[1]);
    const tokenOf = (xml: string) => /<d:sync-token>([^<]+)<\/d:sync-token>/.exec(xml)![1];
    try {
      await request('PROPFIND', book, '', { depth: '0' }); // warm-up: TLS, the auth cache
      let t = performance.now();
      const first = await syncCollection('');
      const hrefs = hrefsOf(first);
      let cards = 0;
      for (let i = 0; i < hrefs.length; i += BATCH) cards += (await multiget(hrefs.slice(i, i + BATCH)).then((x) => x.match(/BEGIN:VCARD/g) ?? [])).length;
      const fullMs = performance.now() - t;
      if (hrefs.length !== CONTACTS || cards !== CONTACTS) throw new Error(`full sync saw ${hrefs.length} hrefs, ${cards} cards`);
      const fullBytes = bytes;

      await adapters.contacts.putContact(USER, 'default', 'c42.vcf', { data: card(42, ' (edited)'), uid: 'urn:uuid:bench-42' });
      bytes = 0;
      t = performance.now();
      const inc = await syncCollection(tokenOf(first));
      const changed = hrefsOf(inc);
      const got = await multiget(changed);
      const incMs = performance.now() - t;
      if (changed.length !== 1 || !got.includes('(edited)')) throw new Error(`incremental sync saw ${changed.length} changes`);
      const incBytes = bytes;

      t = performance.now();
      const listing = await request(
        'PROPFIND',
        book,
        '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/><d:resourcetype/></d:prop></d:propfind>',
        { depth: '1' },
      );
      const propfindMs = performance.now() - t;
      if (hrefsOf(listing).length !== CONTACTS + 1) throw new Error('PROPFIND listing incomplete');
      return {
        carddav_full_sync_5000_ms: Math.round(fullMs),
        carddav_full_sync_5000_kib: Math.round(fullBytes / 1024),
        carddav_incremental_sync_1_change_ms: Math.round(incMs * 10) / 10,
        carddav_incremental_sync_1_change_bytes: incBytes,
        carddav_propfind_depth1_5000_ms: Math.round(propfindMs),
      };
    } finally {
      agent.destroy();
      await Promise.all(listeners.map((l) => l.close(0)));
    }
  } finally {
    await adapters.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchCardDav()));
