/**
 * CardDAV (issue 19): an address book of 5,000 contacts synced the way a sync-collection client
 * (DAVx5) does it, over HTTPS with one keep-alive connection:
 *  - full sync: REPORT sync-collection with an empty token (hrefs and ETags), then
 *    addressbook-multiget of every card in batches of 100, address-data included;
 *  - incremental sync after one card changed: REPORT sync-collection with the token, then a
 *    multiget of the one changed card;
 *  - the PROPFIND Depth 1 listing (what vdirsyncer asks on every sync).
 *
 *  - local adapters (SQLite): the time of each, 5,000 contacts;
 *  - aws adapters on the emulator (moto; bench/aws-meter.ts counts the DynamoDB requests and
 *    computes their units, as for bench/jmap.ts): RRU, WRU and requests of each phase, and of
 *    the one change (a card PUT), at half of BENCH_CARDDAV_AWS_CONTACTS (default 5,000) and at
 *    it. Below 5,000 the full sync and the listing, which grow with the book, are extrapolated
 *    linearly to 5,000 (the output says so; request counts only when both sizes span several
 *    multiget batches); the incremental sync does not depend on the book's size.
 * Not part of the test suite; `npm run bench` runs it (bench/run.ts), or alone:
 * `node bench/carddav.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { hashPassword } from '#core/accounts/password.ts';
import type { Adapters } from '#core/adapters/adapters.ts';
import { setAwsClientHook } from '#core/adapters/aws/clients.ts';
import { createLocalAdapters } from '#core/adapters/local/index.ts';
import { loadConfig } from '#core/config.ts';
import { silentLogger } from '#core/log.ts';
import { createMailboxEvents } from '#core/mailbox/events.ts';
import type { ContactStore } from '#core/ports/contacts.ts';
import { createAuthThrottle } from '#listeners/auth-throttle.ts';
import { cardDavRoutes } from '#listeners/dav/carddav-routes.ts';
import { startEmulatedSystem } from '#listeners/emulated-system.ts';
import { startHttpListeners } from '#listeners/http/http-listener.ts';
import { PROXY_DISABLED } from '#listeners/proxy-protocol.ts';
import { loadTls } from '#listeners/tls.ts';
import { emulatorClientConfig } from '../test/support/emulator.ts';
import { AwsMeter, totals, type MeterSnapshot } from './aws-meter.ts';
import { AWS_PRICES } from './aws-prices.ts';

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

/** Puts cards `from`..`to`-1 in the user's default book. */
async function seed(contacts: ContactStore, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await contacts.putContact(USER, 'default', `c${i}.vcf`, { data: card(i), uid: `urn:uuid:bench-${i}` });
}

async function setUp(adapters: Adapters): Promise<void> {
  if (!(await adapters.index.getDomain('example.test'))) await adapters.index.addDomain('example.test');
  await adapters.index.addUser({ address: USER, passwordHash: await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 }) });
  await adapters.contacts.createAddressBook(USER, { id: 'default', displayName: 'Contacts' });
}

/** A DAV client on one keep-alive HTTPS connection; `bytes` counts the answers' size. */
function davClient(port: number) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  const auth = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const client = {
    bytes: 0,
    destroy: () => agent.destroy(),
    request: (method: string, p: string, body: string, headers: Record<string, string> = {}) =>
      new Promise<string>((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port,
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
              client.bytes += text.length;
              if (res.statusCode !== 207) reject(new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 200)}`));
              else resolve(text);
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
  };
  return client;
}

interface Phase {
  ms: number;
  bytes: number;
  /** With a meter: what the phase cost on DynamoDB. */
  units?: Units;
}

interface Units {
  rru: number;
  wru: number;
  dynamodb: number;
  /** DynamoDB requests by operation, e.g. `Query 1, BatchGetItem 50`. */
  operations: string;
}

function units(s: MeterSnapshot): Units {
  const t = totals(s);
  const operations = [...s.values()]
    .filter((c) => c.service === 'dynamodb')
    .map((c) => `${c.operation} ${c.requests}`)
    .join(', ');
  return { rru: t.rru, wru: t.wru, dynamodb: t.dynamodb, operations };
}

/**
 * The full sync, one change (card `changeIndex` edited through the store, as another device
 * would), the incremental sync and the PROPFIND listing, on a book of `count` cards. With a
 * meter, each phase (and the change) is metered alone; nothing else is.
 */
async function syncRun(port: number, contacts: ContactStore, count: number, changeIndex: number, meter?: AwsMeter) {
  const client = davClient(port);
  const book = `/dav/addressbooks/${USER}/default/`;
  const syncCollection = (token: string) =>
    client.request(
      'REPORT',
      book,
      `<d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`,
    );
  const multiget = (hrefs: string[]) =>
    client.request(
      'REPORT',
      book,
      `<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>${hrefs.map((h) => `<d:href>${h}</d:href>`).join('')}</c:addressbook-multiget>`,
    );
  const hrefsOf = (xml: string) => [...xml.matchAll(/<d:response><d:href>([^<]+)<\/d:href><d:propstat>/g)].map((m) => m[1]);
  const tokenOf = (xml: string) => /<d:sync-token>([^<]+)<\/d:sync-token>/.exec(xml)![1];
  const phase = async <T>(fn: () => Promise<T>): Promise<[T, Phase]> => {
    if (meter) {
      meter.reset();
      meter.enabled = true;
    }
    client.bytes = 0;
    const t = performance.now();
    try {
      const value = await fn();
      const ms = performance.now() - t;
      return [value, { ms, bytes: client.bytes, units: meter ? units(await meter.snapshot()) : undefined }];
    } finally {
      if (meter) meter.enabled = false;
    }
  };
  try {
    await client.request('PROPFIND', book, '', { depth: '0' }); // warm-up: TLS, the auth cache
    const [[first, cards], full] = await phase(async () => {
      const answer = await syncCollection('');
      const hrefs = hrefsOf(answer);
      let n = 0;
      for (let i = 0; i < hrefs.length; i += BATCH) n += (await multiget(hrefs.slice(i, i + BATCH)).then((x) => x.match(/BEGIN:VCARD/g) ?? [])).length;
      if (hrefs.length !== count) throw new Error(`full sync saw ${hrefs.length} hrefs of ${count}`);
      return [answer, n] as const;
    });
    if (cards !== count) throw new Error(`full sync saw ${cards} cards of ${count}`);

    const [, change] = await phase(() =>
      contacts.putContact(USER, 'default', `c${changeIndex}.vcf`, { data: card(changeIndex, ' (edited)'), uid: `urn:uuid:bench-${changeIndex}` }),
    );
    const [[changed, got], incremental] = await phase(async () => {
      const hrefs = hrefsOf(await syncCollection(tokenOf(first)));
      return [hrefs, await multiget(hrefs)] as const;
    });
    if (changed.length !== 1 || !got.includes('(edited)')) throw new Error(`incremental sync saw ${changed.length} changes`);

    const [listing, propfind] = await phase(() =>
      client.request('PROPFIND', book, '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/><d:resourcetype/></d:prop></d:propfind>', {
        depth: '1',
      }),
    );
    if (hrefsOf(listing).length !== count + 1) throw new Error('PROPFIND listing incomplete');
    return { full, change, incremental, propfind };
  } finally {
    client.destroy();
  }
}

async function benchLocal(): Promise<Record<string, number>> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-carddav-'));
  const config = loadConfig({ MAIL_RUNTIME: 'local', MAIL_DATA_DIR: dataDir, MAIL_HOSTNAME: 'bench.test', HTTPS_PORT: '0', HTTP_PORT: '0' });
  const adapters = await createLocalAdapters({ dataDir });
  try {
    await setUp(adapters);
    await seed(adapters.contacts, 0, CONTACTS);
    const authThrottle = createAuthThrottle(config.authThrottle);
    const deps = { adapters, config, tls: await loadTls(config), logger: silentLogger, events: createMailboxEvents(), proxy: PROXY_DISABLED, authThrottle };
    const routes = cardDavRoutes({ index: adapters.index, contacts: adapters.contacts, throttle: authThrottle, allowPlaintextAuthOnLoopback: false });
    const listeners = await startHttpListeners(deps, routes, { httpsPort: 0, httpPort: null });
    try {
      const r = await syncRun(listeners[0].port, adapters.contacts, CONTACTS, 42);
      return {
        carddav_full_sync_5000_ms: Math.round(r.full.ms),
        carddav_full_sync_5000_kib: Math.round(r.full.bytes / 1024),
        carddav_incremental_sync_1_change_ms: round(r.incremental.ms),
        carddav_incremental_sync_1_change_bytes: r.incremental.bytes,
        carddav_propfind_depth1_5000_ms: Math.round(r.propfind.ms),
      };
    } finally {
      await Promise.all(listeners.map((l) => l.close(0)));
    }
  } finally {
    await adapters.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function benchAws(): Promise<Record<string, number>> {
  const size = Number(process.env.BENCH_CARDDAV_AWS_CONTACTS ?? CONTACTS);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-carddav-aws-'));
  process.env.LOG_LEVEL ??= 'error';
  const meter = new AwsMeter();
  meter.enabled = false;
  setAwsClientHook(meter.hook);
  const ports = ['SMTP_PORT', 'SUBMISSION_PORT', 'SUBMISSIONS_PORT', 'IMAP_PORT', 'IMAPS_PORT', 'POP3_PORT', 'POP3S_PORT', 'HTTPS_PORT', 'HTTP_PORT'];
  const config = loadConfig({
    MAIL_RUNTIME: 'local',
    MAIL_DATA_DIR: dataDir,
    MAIL_HOSTNAME: 'bench.test',
    LOG_LEVEL: 'error',
    ...Object.fromEntries(ports.map((k) => [k, '0'])),
  });
  const emulated = await startEmulatedSystem({ config, logger: silentLogger, prefix: `benchdav${Date.now().toString(36)}` });
  meter.connect(emulatorClientConfig(emulated.endpoint));
  try {
    const { adapters } = emulated;
    await setUp(adapters);
    const port = emulated.system.port('https');
    let seeded = 0;
    const measure = async (count: number) => {
      const t = performance.now();
      await seed(adapters.contacts, seeded, count);
      process.stderr.write(`bench: ${count - seeded} cards loaded into the emulator in ${Math.round((performance.now() - t) / 1000)} s\n`);
      seeded = count;
      return { count, ...(await syncRun(port, adapters.contacts, count, 42, meter)) };
    };
    const small = await measure(Math.floor(size / 2));
    const large = await measure(Math.max(size, seeded + 1));
    const at = (f: (r: typeof large) => number) => {
      if (large.count >= CONTACTS) return f(large);
      const slope = (f(large) - f(small)) / (large.count - small.count);
      return f(large) + slope * (CONTACTS - large.count);
    };
    const u = (r: typeof large, p: 'full' | 'incremental' | 'propfind' | 'change') => r[p].units!;
    const full = { rru: at((r) => u(r, 'full').rru), requests: at((r) => u(r, 'full').dynamodb) };
    const propfind = { rru: at((r) => u(r, 'propfind').rru), requests: at((r) => u(r, 'propfind').dynamodb) };
    const inc = u(large, 'incremental');
    const change = u(large, 'change');
    const note =
      large.count >= CONTACTS ? '' : ` (full sync and listing measured at ${small.count} and ${large.count} contacts, extrapolated linearly to ${CONTACTS})`;
    process.stderr.write(
      `bench: CardDAV on the emulator${note}: full sync of ${CONTACTS} ${round(full.rru)} RRU in ${Math.round(full.requests)} DynamoDB requests ` +
        `(measured: ${small.count}: ${round(u(small, 'full').rru)} RRU / ${u(small, 'full').dynamodb} req, ${large.count}: ${round(u(large, 'full').rru)} RRU / ${u(large, 'full').dynamodb} req); ` +
        `one card PUT ${round(change.wru)} WRU, ${round(change.rru)} RRU in ${change.dynamodb} requests; ` +
        `incremental sync ${round(inc.rru)} RRU in ${inc.dynamodb} requests (${round(u(small, 'incremental').rru)} RRU at ${small.count}); ` +
        `PROPFIND Depth 1 ${round(propfind.rru)} RRU in ${Math.round(propfind.requests)} requests\n`,
    );
    for (const p of ['full', 'change', 'incremental', 'propfind'] as const)
      process.stderr.write(`bench:   ${p} at ${large.count}: ${u(large, p).operations}\n`);
    return {
      carddav_aws_full_sync_5000_rru: round(full.rru),
      carddav_aws_full_sync_5000_wru: round(at((r) => u(r, 'full').wru)),
      carddav_aws_full_sync_5000_dynamodb_requests: Math.round(full.requests),
      // On-demand, bench/aws-prices.ts.
      carddav_aws_full_sync_5000_usd_per_1000: round((full.rru * AWS_PRICES.dynamodb.perMillionReadRequestUnits) / 1000, 3),
      carddav_aws_card_put_wru: round(change.wru),
      carddav_aws_card_put_rru: round(change.rru),
      carddav_aws_card_put_dynamodb_requests: change.dynamodb,
      carddav_aws_incremental_sync_1_change_rru: round(inc.rru),
      carddav_aws_incremental_sync_1_change_wru: round(inc.wru),
      carddav_aws_incremental_sync_1_change_dynamodb_requests: inc.dynamodb,
      carddav_aws_propfind_depth1_5000_rru: round(propfind.rru),
      carddav_aws_propfind_depth1_5000_dynamodb_requests: Math.round(propfind.requests),
      carddav_aws_measured_contacts: large.count,
    };
  } finally {
    setAwsClientHook(undefined);
    await emulated.stop(1000);
    meter.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** BENCH_CARDDAV=local or aws runs one half (both by default). */
export async function benchCardDav(): Promise<Record<string, number>> {
  const only = process.env.BENCH_CARDDAV;
  return { ...(only === 'aws' ? {} : await benchLocal()), ...(only === 'local' ? {} : await benchAws()) };
}

if (import.meta.main) console.log(JSON.stringify(await benchCardDav()));
