/**
 * `npm run bench`: every benchmark, printed as a table and as one JSON object (last line).
 * Figures are whole-run measurements on this machine; compare runs on the same machine only.
 * `npm run bench -- --compare`: instead, the side-by-side comparison with Postfix + Dovecot
 * (bench/compare/compare.ts).
 */
import { benchAwsCost } from './aws-cost.ts';
import { benchCardDav } from './carddav.ts';
import { benchImap } from './imap.ts';
import { benchImport } from './import.ts';
import { benchJmap } from './jmap.ts';
import { benchJunk } from './junk.ts';
import { benchSmtpIngest } from './smtp-ingest.ts';
import { benchWebmail } from './webmail.ts';

if (process.argv.includes('--compare')) {
  const { runComparison } = await import('./compare/compare.ts');
  await runComparison();
  process.exit(0);
}

const results: Record<string, number> = {};
const suites: Array<[string, () => Promise<Record<string, number>>]> = [
  ['smtp-ingest', () => benchSmtpIngest()],
  // The same with the job workers on their own thread, as `npm start` runs them.
  ['smtp-ingest-thread', () => benchSmtpIngest({ thread: true })],
  // The same load with inbound verification (SPF, DKIM, ARC, DMARC) on.
  ['smtp-ingest-verified', () => benchSmtpIngest({ verify: true })],
  ['imap', () => benchImap()],
  // CardDAV: a full sync-collection + multiget sync of 5,000 contacts and an incremental one: time locally, DynamoDB units on the emulator.
  ['carddav', () => benchCardDav()],
  // JMAP Email/query + Email/get of 50 on 10,000 messages: time locally, DynamoDB units on the emulator.
  ['jmap', () => benchJmap()],
  // The junk filter trained by moves into/out of Junk on 70 % of the SpamAssassin corpus, scored on 30 % (scripts/setup.sh --test unpacks it).
  ['junk', () => benchJunk()],
  // mailctl import imap from a local Dovecot (scripts/setup.sh --test installs it).
  ['import', () => benchImport()],
  // AWS requests, capacity units and $ on the emulator (moto from .tools/venv: scripts/setup.sh --emulator).
  ['aws-cost', () => benchAwsCost()],
  // The webmail in headless chromium (scripts/setup.sh --test installs it).
  ['webmail', () => benchWebmail()],
];

for (const [name, fn] of suites) {
  process.stderr.write(`bench: ${name}...\n`);
  Object.assign(results, await fn());
}
const width = Math.max(...Object.keys(results).map((k) => k.length));
console.log(`${'metric'.padEnd(width)}  value`);
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(width)}  ${v}`);
console.log(JSON.stringify({ node: process.version, date: new Date().toISOString(), results }));
