/**
 * A tiny authoritative DNS server on loopback UDP for tests (RFC 1035 wire format): answers
 * MX, A, AAAA and TXT questions from a table that the test may change at any time. A name
 * with no records of the asked type but others → NODATA; an unknown name → NXDOMAIN;
 * names in `servfail` → SERVFAIL; names in `drop` get no answer at all (a timeout). No
 * recursion, no internet.
 */
import dgram from 'node:dgram';

/** `ttl` in seconds, 60 unless given. */
export type DnsRecord = (
  | { type: 'A'; address: string }
  | { type: 'AAAA'; address: string }
  | { type: 'MX'; preference: number; exchange: string }
  | { type: 'TXT'; text: string }
  | { type: 'PTR'; name: string }
) & { ttl?: number };

const TYPE_CODES: Record<DnsRecord['type'], number> = { A: 1, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };

export interface TestDnsServer {
  port: number;
  /** `127.0.0.1:<port>`, for DNS_SERVERS. */
  server: string;
  /** Records by lower-case name without the trailing dot. */
  records: Map<string, DnsRecord[]>;
  servfail: Set<string>;
  /** Names whose questions are never answered (the resolver times out). */
  drop: Set<string>;
  set(name: string, records: DnsRecord[]): void;
  /** Questions received, as `name TYPE`. */
  queries: string[];
  close(): Promise<void>;
}

function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.replace(/\.$/, '').split('.').filter(Boolean)) {
    const b = Buffer.from(label, 'ascii');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

function rdata(r: DnsRecord): Buffer {
  switch (r.type) {
    case 'A':
      return Buffer.from(r.address.split('.').map(Number));
    case 'AAAA':
      return ipv6Bytes(r.address);
    case 'PTR':
      return encodeName(r.name);
    case 'MX': {
      const pref = Buffer.alloc(2);
      pref.writeUInt16BE(r.preference);
      return Buffer.concat([pref, r.exchange === '.' || r.exchange === '' ? Buffer.from([0]) : encodeName(r.exchange)]);
    }
    case 'TXT': {
      const chunks: Buffer[] = [];
      const bytes = Buffer.from(r.text, 'utf8');
      for (let i = 0; i < bytes.length || i === 0; i += 255) {
        const c = bytes.subarray(i, i + 255);
        chunks.push(Buffer.from([c.length]), c);
        if (bytes.length === 0) break;
      }
      return Buffer.concat(chunks);
    }
  }
}

/** Parses the question of a query; null when malformed. */
function parseQuestion(msg: Buffer): { id: number; rd: boolean; name: string; qtype: number; questionEnd: number; edns: boolean } | null {
  if (msg.length < 12) return null;
  const id = msg.readUInt16BE(0);
  const rd = (msg[2] & 1) === 1;
  const qd = msg.readUInt16BE(4);
  const ar = msg.readUInt16BE(10);
  if (qd !== 1) return null;
  let p = 12;
  const labels: string[] = [];
  while (p < msg.length && msg[p] !== 0) {
    const len = msg[p];
    if (len > 63 || p + 1 + len > msg.length) return null;
    labels.push(msg.toString('ascii', p + 1, p + 1 + len));
    p += 1 + len;
  }
  if (p + 5 > msg.length) return null;
  const qtype = msg.readUInt16BE(p + 1);
  return { id, rd, name: labels.join('.').toLowerCase(), qtype, questionEnd: p + 5, edns: ar > 0 };
}

export async function startDnsServer(initial: Record<string, DnsRecord[]> = {}): Promise<TestDnsServer> {
  const socket = dgram.createSocket('udp4');
  const records = new Map<string, DnsRecord[]>();
  for (const [k, v] of Object.entries(initial)) records.set(k.toLowerCase(), v);
  const servfail = new Set<string>();
  const drop = new Set<string>();
  const queries: string[] = [];

  socket.on('message', (msg, rinfo) => {
    const q = parseQuestion(msg);
    if (!q) return;
    const typeName = (Object.entries(TYPE_CODES).find(([, c]) => c === q.qtype)?.[0] ?? String(q.qtype)) as string;
    queries.push(`${q.name} ${typeName}`);
    if (drop.has(q.name)) return;
    const all = records.get(q.name);
    let rcode = 0;
    let answers: DnsRecord[] = [];
    if (servfail.has(q.name)) rcode = 2;
    else if (!all) rcode = 3;
    else answers = all.filter((r) => TYPE_CODES[r.type] === q.qtype);
    const rrs = answers.map((r) => {
      const data = rdata(r);
      const fixed = Buffer.alloc(12);
      fixed.writeUInt16BE(0xc00c, 0); // pointer to the question's name
      fixed.writeUInt16BE(TYPE_CODES[r.type], 2);
      fixed.writeUInt16BE(1, 4); // IN
      fixed.writeUInt32BE(r.ttl ?? 60, 6);
      fixed.writeUInt16BE(data.length, 10);
      return Buffer.concat([fixed, data]);
    });
    const header = Buffer.alloc(12);
    header.writeUInt16BE(q.id, 0);
    header.writeUInt16BE(0x8000 | 0x0400 | (q.rd ? 0x0100 : 0) | 0x0080 | rcode, 2); // QR AA RD RA
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(rrs.length, 6);
    let reply = Buffer.concat([header, msg.subarray(12, q.questionEnd), ...rrs]);
    if (!q.edns && reply.length > 512) {
      // RFC 1035 §4.2.1: without EDNS a UDP answer is at most 512 octets; say it was cut.
      reply = Buffer.concat([header, msg.subarray(12, q.questionEnd)]);
      reply.writeUInt16BE(0, 6);
      reply.writeUInt16BE(reply.readUInt16BE(2) | 0x0200, 2);
    }
    socket.send(reply, rinfo.port, rinfo.address);
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  const port = socket.address().port;
  return {
    port,
    server: `127.0.0.1:${port}`,
    records,
    servfail,
    drop,
    queries,
    set(name, rs) {
      records.set(name.toLowerCase(), rs);
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
