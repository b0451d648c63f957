/** IPv4 address and CIDR helpers (addresses as unsigned 32-bit numbers). */
import { CrowbarError } from './errors.js';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a dotted-quad IPv4 address. */
export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

/** Parse a dotted quad into a number; throws bad_request on bad input. */
export function ipToInt(s: string): number {
  if (!isIPv4(s)) throw new CrowbarError('bad_request', `not an IPv4 address: ${JSON.stringify(s)}`);
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

/** Format a number as a dotted quad. */
export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Netmask of a prefix length, as a number. */
export function prefixToMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Prefix length of a netmask given as a dotted quad, or null when not contiguous. */
export function maskToPrefix(mask: string): number | null {
  const m = ipToInt(mask);
  for (let p = 0; p <= 32; p++) if (prefixToMask(p) === m) return p;
  return null;
}

/** An IPv4 network: address/prefix with derived values. */
export interface Cidr {
  address: string;
  prefix: number;
  network: number;
  mask: number;
  broadcast: number;
}

/** Parse `a.b.c.d/n`; the address may be a host address inside the network. */
export function parseCidr(s: string): Cidr {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m || !isIPv4(m[1]) || Number(m[2]) > 32) throw new CrowbarError('bad_request', `not an IPv4 CIDR: ${JSON.stringify(s)}`);
  const prefix = Number(m[2]);
  const mask = prefixToMask(prefix);
  const addr = ipToInt(m[1]);
  const network = (addr & mask) >>> 0;
  return { address: m[1], prefix, network, mask, broadcast: (network | (~mask >>> 0)) >>> 0 };
}

/** True when `ip` (number) lies in the network. */
export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & c.mask) >>> 0) === c.network;
}

/** Reverse-DNS zone name for an IPv4 address at octet granularity (e.g. 5.0.77.10.in-addr.arpa). */
export function ptrName(ip: string): string {
  return ip.split('.').reverse().join('.') + '.in-addr.arpa';
}
