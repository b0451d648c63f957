/**
 * DHCP address pools: the admin subnet's dynamic range and one pool per
 * relayed subnet (chosen by giaddr, RFC 2131 §4.3.1). Node cannot tell on
 * which interface a broadcast arrived, so an unrelayed request always
 * belongs to the admin subnet (docs/dhcp.md, "Limits").
 */
import type { Config } from '../config/schema.js';
import { cidrContains, intToIp, ipToInt, parseCidr, type Cidr } from '../lib/ip.js';

/** One pool. */
export interface DhcpPool {
  /** 'admin' or the relayed subnet in CIDR form. */
  name: string;
  subnet: Cidr;
  /** Dynamic range, inclusive, as numbers. */
  start: number;
  end: number;
  router: string | null;
  /** Subnet mask as a dotted quad. */
  mask: string;
  /** Directed broadcast address. */
  broadcast: string;
  /** Reservations (node admin allocations) apply here. */
  reservations: boolean;
}

function pool(name: string, cidr: string, start: string, end: string, router: string | null | undefined, reservations: boolean): DhcpPool {
  const subnet = parseCidr(cidr);
  return {
    name,
    subnet,
    start: ipToInt(start),
    end: ipToInt(end),
    router: router ?? null,
    mask: intToIp(subnet.mask),
    broadcast: intToIp(subnet.broadcast),
    reservations,
  };
}

/** The admin pool and the relayed pools from the configuration. */
export function poolsFromConfig(cfg: Readonly<Config>): { admin: DhcpPool; relays: DhcpPool[] } {
  const d = cfg.services.dhcp;
  const admin = pool('admin', cfg.admin_network.address, d.range_start, d.range_end, cfg.admin_network.router, true);
  const relays = d.relays.map((r) => pool(parseCidrName(r.subnet), r.subnet, r.range_start, r.range_end, r.router, false));
  return { admin, relays };
}

function parseCidrName(s: string): string {
  const c = parseCidr(s);
  return `${intToIp(c.network)}/${c.prefix}`;
}

/** The pool serving a request: relayed -> the pool whose subnet holds giaddr; else the admin pool. */
export function poolForGiaddr(admin: DhcpPool, relays: readonly DhcpPool[], giaddr: string): DhcpPool | null {
  if (giaddr === '0.0.0.0') return admin;
  const g = ipNum(giaddr);
  for (const p of relays) if (cidrContains(p.subnet, g)) return p;
  if (cidrContains(admin.subnet, g)) return admin;
  return null;
}

/** True when `ip` (number) is in the pool's dynamic range. */
export function inRange(p: DhcpPool, ip: number): boolean {
  return ip >= p.start && ip <= p.end;
}

/** True when `ip` (number) is a usable host address of the pool's subnet. */
export function inSubnet(p: DhcpPool, ip: number): boolean {
  return cidrContains(p.subnet, ip) && ip !== p.subnet.network && ip !== p.subnet.broadcast;
}

/**
 * Fast dotted-quad to number for addresses that came out of the codec or the
 * store (always well-formed); NaN when `s` is not a dotted quad.
 */
export function ipNum(s: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return NaN;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else return NaN;
  }
  if (dots !== 3 || digits === 0 || part > 255) return NaN;
  return n * 256 + part;
}
