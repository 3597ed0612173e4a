/**
 * PROXY protocol (HAProxy spec, versions 1 and 2) in front of every listener. Behind the AWS
 * Network Load Balancer with proxy protocol v2 enabled on the target groups, each connection
 * starts with a header naming the real client; we read it before the protocol server sees the
 * socket, so SMTP checks, auth throttling and logs see the client, not the load balancer.
 *
 * The header is honoured only from peers inside PROXY_TRUSTED_CIDRS (the load balancer's
 * subnets); from anyone else the connection is served as is (a client could otherwise claim
 * any address). From a trusted peer the header is required: a connection without a valid one
 * is closed. Health checks from loopback are not in the trusted ranges and need no header.
 *
 * Configuration: PROXY_PROTOCOL=v2 (or v1; both versions are accepted once enabled) and
 * PROXY_TRUSTED_CIDRS=10.0.0.0/16,10.1.0.0/16.
 */
import net from 'node:net';

export interface ProxyConfig {
  enabled: boolean;
  trusted: net.BlockList;
  /** How long a trusted peer may take to send the header. */
  headerTimeoutMs: number;
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_MAX = 107;

export function proxyConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ProxyConfig {
  const mode = (env.PROXY_PROTOCOL ?? '').toLowerCase();
  const trusted = new net.BlockList();
  for (const cidr of (env.PROXY_TRUSTED_CIDRS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [addr, bits] = cidr.split('/');
    const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (!net.isIP(addr)) throw new Error(`PROXY_TRUSTED_CIDRS: not an address: ${cidr}`);
    const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits);
    trusted.addSubnet(addr, prefix, family);
  }
  return { enabled: mode === 'v1' || mode === 'v2', trusted, headerTimeoutMs: 5000 };
}

export const PROXY_DISABLED: ProxyConfig = { enabled: false, trusted: new net.BlockList(), headerTimeoutMs: 5000 };

export type ProxyParse =
  | { state: 'incomplete' }
  | { state: 'invalid'; reason: string }
  /** `source` is absent for LOCAL (v2) / UNKNOWN (v1) headers: keep the socket's own address. */
  | { state: 'done'; consumed: number; source?: { address: string; port: number } };

/** Parses a PROXY v1 or v2 header at the start of `buf`. */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return { state: 'incomplete' };
  if (buf[0] === 0x0d) {
    const n = Math.min(buf.length, V2_SIGNATURE.length);
    if (!buf.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return { state: 'invalid', reason: 'bad v2 signature' };
    if (buf.length < 16) return { state: 'incomplete' };
    const verCmd = buf[12];
    if (verCmd >> 4 !== 2) return { state: 'invalid', reason: 'unsupported version' };
    const command = verCmd & 0x0f;
    const famProto = buf[13];
    const len = buf.readUInt16BE(14);
    if (buf.length < 16 + len) return { state: 'incomplete' };
    const consumed = 16 + len;
    if (command === 0x0) return { state: 'done', consumed }; // LOCAL: health checks of the proxy itself
    if (command !== 0x1) return { state: 'invalid', reason: 'unknown command' };
    const family = famProto >> 4;
    const body = buf.subarray(16, consumed);
    if (family === 0x1 && len >= 12) {
      const address = `${body[0]}.${body[1]}.${body[2]}.${body[3]}`;
      return { state: 'done', consumed, source: { address, port: body.readUInt16BE(8) } };
    }
    if (family === 0x2 && len >= 36) {
      const parts: string[] = [];
      for (let i = 0; i < 16; i += 2) parts.push(body.readUInt16BE(i).toString(16));
      return { state: 'done', consumed, source: { address: normalizeIPv6(parts.join(':')), port: body.readUInt16BE(32) } };
    }
    return { state: 'done', consumed }; // AF_UNSPEC / AF_UNIX: no usable address
  }
  if (buf[0] === 0x50) {
    const prefix = 'PROXY ';
    const head = buf.subarray(0, Math.min(buf.length, prefix.length)).toString('latin1');
    if (!prefix.startsWith(head)) return { state: 'invalid', reason: 'not a proxy header' };
    const end = buf.indexOf('\r\n');
    if (end < 0) return buf.length >= V1_MAX ? { state: 'invalid', reason: 'v1 header too long' } : { state: 'incomplete' };
    // Also when the whole line came at once: the verdict must not depend on the segmenting.
    if (end + 2 > V1_MAX) return { state: 'invalid', reason: 'v1 header too long' };
    const fields = buf.subarray(0, end).toString('latin1').split(' ');
    if (fields[1] === 'UNKNOWN') return { state: 'done', consumed: end + 2 };
    if (fields.length !== 6 || (fields[1] !== 'TCP4' && fields[1] !== 'TCP6')) return { state: 'invalid', reason: 'bad v1 header' };
    const [, proto, src, , srcPort] = fields;
    const port = Number(srcPort);
    if (net.isIP(src) !== (proto === 'TCP4' ? 4 : 6) || !Number.isInteger(port) || port < 0 || port > 65535)
      return { state: 'invalid', reason: 'bad v1 address' };
    return { state: 'done', consumed: end + 2, source: { address: src, port } };
  }
  return { state: 'invalid', reason: 'not a proxy header' };
}

function normalizeIPv6(a: string): string {
  // Let the platform produce the canonical text form (e.g. ::ffff:… or compressed zeros).
  const sock = new net.SocketAddress({ address: a, family: 'ipv6' });
  return sock.address;
}

/** Sockets whose remote address is the one a PROXY header named (not the peer's own). */
const rewritten = new WeakSet<net.Socket>();

/**
 * Whether `socket`'s remoteAddress came from a PROXY header rather than from the TCP peer:
 * trust that belongs to the peer itself (loopback, SMTP_TRUSTED_NETWORKS) must not follow a
 * claimed address.
 */
export function addressFromProxyHeader(socket: net.Socket): boolean {
  return rewritten.has(socket);
}

function isTrusted(config: ProxyConfig, address: string | undefined): boolean {
  if (!config.enabled || !address) return false;
  const a = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return config.trusted.check(a, net.isIPv6(a) ? 'ipv6' : 'ipv4');
}

/**
 * Reads the header from a trusted peer and returns the socket with remoteAddress/remotePort
 * replaced by the real client's; bytes after the header stay in the socket. Resolves null when
 * the connection should be dropped (invalid/missing header from a trusted peer).
 */
export function acceptProxied(socket: net.Socket, config: ProxyConfig): Promise<net.Socket | null> {
  if (!isTrusted(config, socket.remoteAddress)) return Promise.resolve(socket);
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const finish = (result: net.Socket | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onEnd);
      socket.off('end', onEnd);
      if (!result) socket.destroy();
      resolve(result);
    };
    const onEnd = () => finish(null);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const parsed = parseProxyHeader(buf);
      if (parsed.state === 'incomplete') return;
      if (parsed.state === 'invalid') return finish(null);
      socket.pause();
      const rest = buf.subarray(parsed.consumed);
      if (rest.length > 0) socket.unshift(rest);
      if (parsed.source) {
        Object.defineProperty(socket, 'remoteAddress', { value: parsed.source.address, configurable: true });
        Object.defineProperty(socket, 'remotePort', { value: parsed.source.port, configurable: true });
        Object.defineProperty(socket, 'remoteFamily', { value: net.isIPv6(parsed.source.address) ? 'IPv6' : 'IPv4', configurable: true });
        rewritten.add(socket);
      }
      finish(socket);
    };
    const timer = setTimeout(() => finish(null), config.headerTimeoutMs);
    socket.on('data', onData);
    socket.once('error', onEnd);
    socket.once('end', onEnd);
  });
}

/**
 * A TCP server whose connections go through acceptProxied before `onConnection` sees them.
 * Use it in place of net.createServer for every listener.
 */
export function createProxiedServer(config: ProxyConfig, onConnection: (socket: net.Socket) => void): net.Server {
  return net.createServer({ pauseOnConnect: false }, (socket) => {
    socket.on('error', () => {});
    acceptProxied(socket, config).then((s) => {
      if (!s) return;
      onConnection(s);
      s.resume();
    });
  });
}
