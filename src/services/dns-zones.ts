/**
 * The DNS zones of the appliance, derived from the configuration and the
 * store: the admin domain (the appliance's own names, every node's admin
 * address under its FQDN, other networks as `<short>.<network>.<domain>`,
 * configured aliases as CNAMEs) and the reverse zones of the admin subnet,
 * the relayed DHCP subnets and any other allocated network (its /24).
 *
 * `StoreZoneSource` is the `AuthoritySource` the DNS server consults on every
 * query: it checks the store's change marker at most once per event-loop turn
 * and rebuilds the snapshot only when the records actually changed, so an
 * allocation, rename or deletion is visible to the next query.
 */
import type { Clock } from '../lib/clock.js';
import { errorMessage } from '../lib/errors.js';
import { intToIp, parseCidr, ptrName, type Cidr } from '../lib/ip.js';
import type { Logger } from '../lib/logger.js';
import { Authority, type ZoneData } from '../protocols/dns/authority.js';
import { CLASS_IN, RRType, type DnsRecord } from '../protocols/dns/message.js';
import { canonicalName, isSubdomain, nameToLabels } from '../protocols/dns/names.js';
import type { AuthoritySource } from '../protocols/dns/server.js';
import type { Allocation } from '../store/allocations.js';
import type { NodeName } from '../store/dnsview.js';

/** Static inputs of the zones (from the configuration). */
export interface ZoneSettings {
  /** Admin domain, e.g. crowbar.test. */
  domain: string;
  /** The appliance's admin address in CIDR form (address/prefix). */
  adminAddress: string;
  /** Further subnets we allocate on (relayed DHCP subnets), CIDR. */
  extraSubnets: readonly string[];
  /** Operator aliases: name -> target (relative names are under the domain). */
  aliases: ReadonlyArray<{ name: string; target: string }>;
  /** TTL of every record and of negative answers, seconds. */
  ttl: number;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Reverse zones (octet-aligned, RFC 1035 §3.5) covering an IPv4 network; at most 256. */
export function reverseZonesOf(c: Cidr): string[] {
  const bits = Math.max(8, Math.ceil(c.prefix / 8) * 8);
  const count = Math.min(256, 2 ** (bits - Math.min(c.prefix, bits)));
  const step = 2 ** (32 - bits);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const octets = intToIp((c.network + i * step) >>> 0).split('.').slice(0, bits / 8);
    out.push(octets.reverse().join('.') + '.in-addr.arpa');
  }
  return out;
}

function encodable(name: string): boolean {
  try {
    nameToLabels(name);
    return true;
  } catch {
    return false;
  }
}

function fqdn(name: string, domain: string): string {
  const n = canonicalName(name);
  return n.includes('.') ? n : `${n}.${domain}`;
}

/** Build the zone data from settings, node names and allocations. */
export function buildZones(s: ZoneSettings, nodes: readonly NodeName[], allocations: readonly Allocation[], serial: number): ZoneData[] {
  const domain = canonicalName(s.domain);
  const admin = parseCidr(s.adminAddress);
  const nsName = `admin.${domain}`;
  const soa = { mname: nsName, rname: `hostmaster.${domain}`, serial: serial >>> 0, refresh: 3600, retry: 600, expire: 86400, minimum: s.ttl };
  const rec = (name: string, type: number, data: DnsRecord['data']): DnsRecord => ({ name, type, class: CLASS_IN, ttl: s.ttl, data });
  const forward: DnsRecord[] = [];
  const reverse: DnsRecord[] = [];
  const a = (name: string, ip: string) => {
    if (!encodable(name)) return; // e.g. a label over 63 octets: never served
    if (isSubdomain(name, domain)) forward.push(rec(name, RRType.A, { kind: 'a', address: ip }));
    reverse.push(rec(ptrName(ip), RRType.PTR, { kind: 'name', target: name }));
  };
  a(nsName, admin.address);
  forward.push(rec(`crowbar.${domain}`, RRType.CNAME, { kind: 'name', target: nsName }));
  for (const al of s.aliases.filter((x) => encodable(fqdn(x.name, domain)) && encodable(fqdn(x.target, domain)))) forward.push(rec(fqdn(al.name, domain), RRType.CNAME, { kind: 'name', target: fqdn(al.target, domain) }));

  const byId = new Map(nodes.map((n) => [n.id, fqdn(n.name, domain)]));
  const reverseOrigins = new Set<string>([admin, ...s.extraSubnets.map(parseCidr)].flatMap(reverseZonesOf));
  for (const al of allocations) {
    const name = byId.get(al.node_id);
    if (!name) continue;
    if (al.network === 'admin') a(name, al.address);
    else {
      const net = al.network.toLowerCase();
      if (!LABEL.test(net)) continue;
      const short = name.split('.')[0];
      a(`${short}.${net}.${domain}`, al.address);
      const rz = reverseZonesOf(parseCidr(`${al.address}/24`))[0];
      if (![...reverseOrigins].some((o) => isSubdomain(ptrName(al.address), o))) reverseOrigins.add(rz);
    }
  }
  const zone = (origin: string, records: DnsRecord[]): ZoneData => ({ origin, soa, ttl: s.ttl, nameServers: [nsName], records });
  const zones: ZoneData[] = [zone(domain, forward)];
  for (const origin of reverseOrigins) zones.push(zone(origin, reverse.filter((r) => isSubdomain(r.name, origin))));
  return zones;
}

/** What StoreZoneSource reads from the store. */
export interface ZoneStore {
  /** Changes after any committed write. */
  marker(): string;
  names(): NodeName[];
  allocations(): Allocation[];
}

/** Zone snapshots that follow the store (see module comment). */
export class StoreZoneSource implements AuthoritySource {
  private snapshot: Authority;
  private marker = '';
  private fingerprint = '';
  private serial = 0;
  private checkedThisTurn = false;

  constructor(
    private readonly settings: ZoneSettings,
    private readonly store: ZoneStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.snapshot = new Authority([]);
    this.refresh();
  }

  /** Forget the marker so the next query re-reads the store (the 'dns-update' effect). */
  invalidate(): void {
    this.marker = '';
    this.checkedThisTurn = false;
  }

  /** The current snapshot; re-checks the store once per event-loop turn. */
  current(): Authority {
    if (!this.checkedThisTurn) {
      this.checkedThisTurn = true;
      setImmediate(() => (this.checkedThisTurn = false));
      this.refresh();
    }
    return this.snapshot;
  }

  /** Re-read the store when its marker moved; rebuild when the records changed. */
  refresh(): void {
    try {
      const m = this.store.marker();
      if (m === this.marker) return;
      this.marker = m;
      const names = this.store.names();
      const allocs = this.store.allocations();
      const fp = JSON.stringify([names, allocs.map((a) => [a.network, a.address, a.node_id])]);
      if (fp === this.fingerprint) return;
      this.fingerprint = fp;
      this.serial = Math.max(this.serial + 1, Math.floor(this.clock.now() / 1000)) >>> 0;
      this.snapshot = new Authority(buildZones(this.settings, names, allocs, this.serial), this.serial);
      this.log.debug('dns zones rebuilt', { serial: this.serial, nodes: names.length, allocations: allocs.length });
    } catch (e) {
      // Keep serving the last good snapshot; the next turn retries.
      this.marker = '';
      this.log.warn('dns zone rebuild failed; serving the previous data', { error: errorMessage(e) });
    }
  }
}
