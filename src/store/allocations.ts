/**
 * Persistent IP allocation per network and node. An address belongs to at
 * most one node per network and a node has at most one address per network
 * (both enforced by SQLite constraints); allocation picks the lowest free
 * address of the range, or honours a suggested one when it is free.
 */
import { preparedCache, type Db, type Prepare } from './db.js';
import { CrowbarError } from '../lib/errors.js';
import { intToIp, ipToInt } from '../lib/ip.js';

/** One allocated address. */
export interface Allocation {
  network: string;
  address: string;
  node_id: number;
  created_at: number;
}

/** An inclusive address range. */
export interface AddressRange {
  start: string;
  end: string;
}

/** Data access for allocations. */
export class AllocationRepo {
  private readonly sql: Prepare;

  constructor(private readonly db: Db) {
    this.sql = preparedCache(db);
  }

  /** The node's address on `network`, or undefined. */
  get(network: string, nodeId: number): Allocation | undefined {
    return this.sql<[string, number], Allocation>('SELECT network, address, node_id, created_at FROM allocations WHERE network = ? AND node_id = ?')
      .get(network, nodeId);
  }

  /** Who holds `address` on `network`. */
  holder(network: string, address: string): Allocation | undefined {
    return this.sql<[string, string], Allocation>('SELECT network, address, node_id, created_at FROM allocations WHERE network = ? AND address = ?')
      .get(network, address);
  }

  /** All allocations of a network (or of all networks). */
  list(network?: string): Allocation[] {
    return network
      ? this.sql<[string], Allocation>('SELECT network, address, node_id, created_at FROM allocations WHERE network = ? ORDER BY address_int').all(network)
      : this.sql<[], Allocation>('SELECT network, address, node_id, created_at FROM allocations ORDER BY network, address_int').all();
  }

  /** Node name -> address on `network`, in one query (run lists list every peer). */
  byNodeName(network: string): Map<string, string> {
    const rows = this.sql<[string], { name: string; address: string }>('SELECT n.name AS name, a.address AS address FROM allocations a JOIN nodes n ON n.id = a.node_id WHERE a.network = ?')
      .all(network);
    return new Map(rows.map((r) => [r.name, r.address]));
  }

  /** All allocations of one node. */
  forNode(nodeId: number): Allocation[] {
    return this.sql<[number], Allocation>('SELECT network, address, node_id, created_at FROM allocations WHERE node_id = ? ORDER BY network').all(nodeId);
  }

  /**
   * Allocate (idempotently) an address for `nodeId` on `network` from `range`.
   * Returns the existing allocation when the node has one. A `suggested`
   * address inside the range is used when free. `exclude` lists addresses
   * never handed out (e.g. the appliance's own). Raises `pool.exhausted`.
   */
  allocate(network: string, nodeId: number, range: AddressRange, now: number, suggested?: string, exclude: readonly string[] = []): Allocation {
    return this.db.transaction(() => {
      const have = this.get(network, nodeId);
      if (have) return have;
      const lo = ipToInt(range.start);
      const hi = ipToInt(range.end);
      const ex = new Set(exclude.map(ipToInt));
      let pick: number | null = null;
      if (suggested) {
        const s = ipToInt(suggested);
        if (s >= lo && s <= hi && !ex.has(s) && !this.holder(network, suggested)) pick = s;
      }
      if (pick === null) pick = this.afterDenseRange(network, lo, hi, ex);
      if (pick === null) {
        const used = new Set(
          this.sql<[string, number, number], { address_int: number }>('SELECT address_int FROM allocations WHERE network = ? AND address_int BETWEEN ? AND ?')
            .all(network, lo, hi)
            .map((r) => r.address_int),
        );
        for (let a = lo; a <= hi; a++) {
          if (!used.has(a) && !ex.has(a)) {
            pick = a;
            break;
          }
        }
      }
      if (pick === null) throw new CrowbarError('pool.exhausted', `network ${network}: no free address in ${range.start}-${range.end}`, { network });
      const address = intToIp(pick);
      this.sql('INSERT INTO allocations (network, address, address_int, node_id, created_at) VALUES (?, ?, ?, ?, ?)').run(network, address, pick, nodeId, now);
      return { network, address, node_id: nodeId, created_at: now };
    }).immediate();
  }

  /**
   * The lowest free address when the allocated addresses (plus the excluded
   * ones) fill `lo`..max without a hole: max + 1 (skipping excluded ones).
   * This is the common case (a rack being discovered) and costs two index
   * walks in SQLite instead of reading every allocation into a set, which
   * made each allocation O(nodes). Null when there is a hole (or the range is
   * full): the caller scans.
   */
  private afterDenseRange(network: string, lo: number, hi: number, ex: ReadonlySet<number>): number | null {
    const r = this.sql<[string, number, number], { n: number; max: number | null }>(
      'SELECT COUNT(*) AS n, MAX(address_int) AS max FROM allocations WHERE network = ? AND address_int BETWEEN ? AND ?',
    ).get(network, lo, hi)!;
    const max = r.max ?? lo - 1;
    let excluded = 0;
    for (const e of ex) if (e >= lo && e <= max) excluded++;
    if (r.n + excluded !== max - lo + 1) return null;
    for (let a = max + 1; a <= hi; a++) if (!ex.has(a)) return a;
    return null;
  }

  /** Release a node's address on one network, or on all networks. */
  release(nodeId: number, network?: string): number {
    const r = network
      ? this.sql('DELETE FROM allocations WHERE node_id = ? AND network = ?').run(nodeId, network)
      : this.sql('DELETE FROM allocations WHERE node_id = ?').run(nodeId);
    return r.changes;
  }
}
