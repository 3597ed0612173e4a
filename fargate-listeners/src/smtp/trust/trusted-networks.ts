/**
 * SMTP_TRUSTED_NETWORKS: clients whose mail the MX takes without inbound verification, rate
 * limits or blocklist checks — by default loopback only, as OpenDMARC's IgnoreHosts and
 * rspamd's local_addrs do, so `npm start` accepts mail from local tools without DNS. A
 * trusted client's message gets no Authentication-Results of ours (nothing was checked),
 * though forged ones carrying our authserv-id are still removed.
 */
import net from 'node:net';

export interface TrustedNetworks {
  contains(address: string | undefined): boolean;
}

export function trustedNetworks(cidrs: string[]): TrustedNetworks {
  const list = new net.BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const type = net.isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return {
    contains(address) {
      if (!address) return false;
      const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
      const family = net.isIP(plain);
      if (!family) return false;
      return list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
