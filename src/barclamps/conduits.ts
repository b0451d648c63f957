/**
 * Crowbar's conduits: abstract connections named by NIC speed and order, so
 * one network proposal fits servers with different NICs. An interface
 * reference is `[sign]<speed><n>`:
 *   `1g1`   the 1st NIC whose link speed is exactly 1 Gb/s
 *   `+10g1` the 1st NIC of 10 Gb/s or faster
 *   `-10g2` the 2nd NIC of 10 Gb/s or slower
 *   `?1g1`  the 1st NIC of any speed (the speed is a hint only)
 * NICs are ordered by name (natural order: eth2 < eth10), as Crowbar ordered
 * them by bus position. A conduit with several interfaces is a team (bond)
 * with a teaming mode (Linux bonding modes 0-6). Conduit maps pick the
 * conduit list for a node by `<mode>/<nic count>/<node name>` regexes.
 */
import { CrowbarError } from '../lib/errors.js';

/** A NIC as discovered (subset of Inventory.nics). */
export interface Nic {
  name: string;
  mac: string;
  speed_mbps?: number;
}

/** One conduit definition. */
export interface ConduitDef {
  if_list: string[];
  /** Linux bonding mode used when the conduit has more than one interface (default 6, balance-alb). */
  team_mode?: number;
}

/** One entry of the conduit map. */
export interface ConduitMapEntry {
  /** Regex over `<mode>/<nic count>/<node name>`. */
  pattern: string;
  conduit_list: Record<string, ConduitDef>;
}

/** A conduit resolved for one node. */
export interface ResolvedConduit {
  conduit: string;
  /** NIC names, in if_list order. */
  interfaces: string[];
  /** if_list entries that matched no NIC. */
  missing: string[];
  /** Present when more than one interface: the bond to build. */
  team?: { name: string; mode: number };
}

const SPEEDS: Record<string, number> = { '10m': 10, '100m': 100, '1g': 1000, '10g': 10000, '25g': 25000, '40g': 40000, '50g': 50000, '100g': 100000 };
const REF = /^([?+-]?)(10m|100m|1g|10g|25g|40g|50g|100g)([1-9]\d?)$/;

/** A parsed interface reference. */
export interface InterfaceRef {
  sign: '' | '+' | '-' | '?';
  speed: number;
  index: number;
}

/** Parse `+10g1` etc.; throws bad_request naming the reference. */
export function parseInterfaceRef(ref: string): InterfaceRef {
  const m = REF.exec(ref);
  if (!m) throw new CrowbarError('bad_request', `interface reference ${JSON.stringify(ref)}: expected [?+-]<speed><n> with speed ${Object.keys(SPEEDS).join('|')} (e.g. 1g1, +10g1, ?1g2)`);
  return { sign: m[1] as InterfaceRef['sign'], speed: SPEEDS[m[2]], index: Number(m[3]) };
}

/** Natural order of interface names (eth2 < eth10). */
export function compareNicNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** NICs in conduit order. */
export function orderNics(nics: readonly Nic[]): Nic[] {
  return [...nics].sort((a, b) => compareNicNames(a.name, b.name));
}

function matches(r: InterfaceRef, n: Nic): boolean {
  const s = n.speed_mbps;
  if (r.sign === '?') return true;
  if (s === undefined || s <= 0) return false;
  if (r.sign === '+') return s >= r.speed;
  if (r.sign === '-') return s <= r.speed;
  return s === r.speed;
}

/** The NIC a reference names, or undefined. */
export function resolveRef(ref: string, nics: readonly Nic[]): Nic | undefined {
  const r = parseInterfaceRef(ref);
  return orderNics(nics).filter((n) => matches(r, n))[r.index - 1];
}

/** Pick the conduit list for a node from the map (first matching pattern). */
export function selectConduits(map: readonly ConduitMapEntry[], mode: string, nicCount: number, nodeName: string): Record<string, ConduitDef> {
  const key = `${mode}/${nicCount}/${nodeName}`;
  for (const e of map) if (new RegExp(`^(?:${e.pattern})$`).test(key)) return e.conduit_list;
  throw new CrowbarError('not_found', `no conduit_map entry matches ${key}`);
}

/**
 * Resolve every conduit for a node's NICs. Conduits may share a NIC (in
 * Crowbar's single-NIC mode every conduit is the first NIC, networks are
 * told apart by VLAN); within one conduit a NIC counts once.
 */
export function resolveConduits(list: Record<string, ConduitDef>, nics: readonly Nic[]): Record<string, ResolvedConduit> {
  const out: Record<string, ResolvedConduit> = {};
  // Conduits over the same set of NICs share one bond.
  const bonds = new Map<string, string>();
  for (const [name, def] of Object.entries(list)) {
    const interfaces: string[] = [];
    const missing: string[] = [];
    for (const ref of def.if_list) {
      const nic = resolveRef(ref, nics);
      if (!nic || interfaces.includes(nic.name)) missing.push(ref);
      else interfaces.push(nic.name);
    }
    const rc: ResolvedConduit = { conduit: name, interfaces, missing };
    if (interfaces.length > 1) {
      const key = [...interfaces].sort().join(',');
      if (!bonds.has(key)) bonds.set(key, `bond${bonds.size}`);
      rc.team = { name: bonds.get(key)!, mode: def.team_mode ?? 6 };
    }
    out[name] = rc;
  }
  return out;
}
