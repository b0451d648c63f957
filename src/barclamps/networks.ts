/**
 * Network definitions of the network barclamp (design.md §3):
 * `networks.<name>: {conduit, vlan, use_vlan, add_bridge, subnet, netmask,
 * router, ranges: {host, dhcp, admin, switch, ...}}`, their consistency
 * rules, and the interface plan of one node (which NIC/bond/VLAN carries
 * which network with which address).
 */
import { CrowbarError } from '../lib/errors.js';
import { cidrContains, intToIp, ipToInt, isIPv4, maskToPrefix, parseCidr } from '../lib/ip.js';
import type { ResolvedConduit } from './conduits.js';

/** One address range (inclusive). */
export interface NetRange {
  start: string;
  end: string;
}

/** One network of the network barclamp. */
export interface NetworkDef {
  conduit: string;
  vlan: number;
  use_vlan: boolean;
  add_bridge: boolean;
  subnet: string;
  netmask: string;
  router?: string | null;
  router_pref?: number;
  ranges: Record<string, NetRange>;
}

/** Network names: lower-case letters, digits, '_'. */
export const NETWORK_NAME = /^[a-z][a-z0-9_]{0,31}$/;

/** Problems of a set of networks (paths relative to `base`, e.g. attributes.network.networks). */
export function networkProblems(networks: Record<string, NetworkDef>, conduits: ReadonlySet<string>, base: string): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  for (const [name, n] of Object.entries(networks)) {
    const p = `${base}.${name}`;
    if (!NETWORK_NAME.test(name)) out.push({ path: p, message: 'network names use lower-case letters, digits and _' });
    if (!conduits.has(n.conduit)) out.push({ path: `${p}.conduit`, message: `unknown conduit ${JSON.stringify(n.conduit)} (defined: ${[...conduits].join(', ')})` });
    if (!isIPv4(n.subnet) || !isIPv4(n.netmask)) {
      out.push({ path: `${p}.subnet`, message: 'subnet and netmask must be IPv4 addresses' });
      continue;
    }
    const prefix = maskToPrefix(n.netmask);
    if (prefix === null) {
      out.push({ path: `${p}.netmask`, message: `${n.netmask} is not a contiguous netmask` });
      continue;
    }
    const c = parseCidr(`${n.subnet}/${prefix}`);
    if (c.network !== ipToInt(n.subnet)) out.push({ path: `${p}.subnet`, message: `${n.subnet} is not the network address of ${n.subnet}/${prefix} (use ${intToIp(c.network)})` });
    if (n.router && (!isIPv4(n.router) || !cidrContains(c, ipToInt(n.router)))) out.push({ path: `${p}.router`, message: `${n.router} is not inside ${n.subnet}/${prefix}` });
    if (n.use_vlan && (n.vlan < 1 || n.vlan > 4094)) out.push({ path: `${p}.vlan`, message: 'must be 1..4094 when use_vlan is true' });
    const spans: Array<[string, number, number]> = [];
    for (const [rn, r] of Object.entries(n.ranges)) {
      const rp = `${p}.ranges.${rn}`;
      if (!isIPv4(r.start) || !isIPv4(r.end)) {
        out.push({ path: rp, message: 'start and end must be IPv4 addresses' });
        continue;
      }
      const a = ipToInt(r.start);
      const b = ipToInt(r.end);
      if (!cidrContains(c, a) || !cidrContains(c, b)) out.push({ path: rp, message: `${r.start}-${r.end} is not inside ${n.subnet}/${prefix}` });
      if (a > b) out.push({ path: `${rp}.start`, message: `${r.start} is after ${r.end}` });
      for (const [on, oa, ob] of spans) if (a <= ob && oa <= b) out.push({ path: rp, message: `overlaps range ${on}` });
      spans.push([rn, a, b]);
    }
    if (!n.ranges.host) out.push({ path: `${p}.ranges.host`, message: 'is required (addresses allocated to nodes)' });
  }
  return out;
}

/** The range nodes' addresses come from. */
export function hostRange(name: string, n: NetworkDef): NetRange {
  const r = n.ranges.host;
  if (!r) throw new CrowbarError('bad_request', `network ${name} has no host range`);
  return r;
}

/** Addresses never handed to a node on this network (network, broadcast, router). */
export function reservedAddresses(n: NetworkDef): string[] {
  const prefix = maskToPrefix(n.netmask) ?? 32;
  const c = parseCidr(`${n.subnet}/${prefix}`);
  const out = [intToIp(c.network), intToIp(c.broadcast)];
  if (n.router) out.push(n.router);
  return out;
}

/** One network as configured on a node. */
export interface NodeInterface {
  network: string;
  conduit: string;
  /** Device carrying the address: NIC, bond, `<dev>.<vlan>`, or `br-<net>` when bridged. */
  device: string;
  /** Physical members (NIC names). */
  members: string[];
  team?: { name: string; mode: number };
  vlan: number | null;
  address: string | null;
  netmask: string;
  router: string | null;
  problem?: string;
}

/** The interface plan of a node: networks with addresses over resolved conduits. */
export function interfacePlan(
  networks: Record<string, NetworkDef>,
  conduits: Record<string, ResolvedConduit>,
  addresses: Record<string, string>,
): NodeInterface[] {
  const out: NodeInterface[] = [];
  for (const [name, n] of Object.entries(networks)) {
    const address = addresses[name] ?? null;
    if (address === null) continue;
    const rc = conduits[n.conduit];
    const base: Omit<NodeInterface, 'device'> = {
      network: name,
      conduit: n.conduit,
      members: rc?.interfaces ?? [],
      vlan: n.use_vlan ? n.vlan : null,
      address,
      netmask: n.netmask,
      router: n.router ?? null,
    };
    if (!rc || rc.interfaces.length === 0) {
      out.push({ ...base, device: '', problem: `conduit ${n.conduit} matches no NIC of this node` });
      continue;
    }
    let device = rc.team ? rc.team.name : rc.interfaces[0];
    if (n.use_vlan) device = `${device}.${n.vlan}`;
    if (n.add_bridge) device = `br-${name}`;
    out.push({ ...base, device, ...(rc.team ? { team: rc.team } : {}) });
  }
  return out;
}
