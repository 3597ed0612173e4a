/**
 * SMTP_TRUSTED_NETWORKS: clients whose mail the MX takes without inbound verification, rate
 * limits or blocklist checks — by default loopback only, as OpenDMARC's IgnoreHosts and
 * rspamd's local_addrs do, so `npm start` accepts mail from local tools without DNS. A
 * trusted client's message gets no Authentication-Results of ours (nothing was checked),
 * though forged ones carrying our authserv-id are still removed.
 *
 * Loopback is trusted only as the TCP peer itself: an address a PROXY header names
 * (proxy-protocol.ts) is never trusted for being loopback, whatever the list says, since a
 * peer inside PROXY_TRUSTED_CIDRS could otherwise claim 127.0.0.1 and skip every check (a
 * real client behind the load balancer is never on our loopback). Other networks of the list
 * apply to the address the header names (a filtering gateway behind the load balancer).
 */
import net from 'node:net';

export interface TrustedNetworks {
  /** `fromProxyHeader`: the address was named by a PROXY header, not the TCP peer's own. */
  contains(address: string | undefined, fromProxyHeader?: boolean): boolean;
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function trustedNetworks(cidrs: string[]): TrustedNetworks {
  const list = new net.BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const type = net.isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return {
    contains(address, fromProxyHeader = false) {
      if (!address) return false;
      const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
      const family = net.isIP(plain);
      if (!family) return false;
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (fromProxyHeader && LOOPBACK.check(plain, type)) return false;
      return list.check(plain, type);
    },
  };
}
