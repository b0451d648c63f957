/**
 * DHCP lease rows in SQLite (migration 2). The primary key on the address
 * keeps one holder per address; the bind upsert additionally refuses to
 * take over an address whose lease is bound to another MAC and not expired,
 * so even a logic error above cannot hand one address to two machines.
 * Writes are applied in batches: one transaction (one WAL fsync with
 * synchronous=FULL) per batch; each operation either applies completely or
 * changes nothing, so a failing one does not spoil the batch.
 */
import type { Db } from './db.js';
import { CrowbarError, errorMessage } from '../lib/errors.js';

/** Number of triggers migration 2 creates to maintain dhcp_reservation_gen. */
export const RESERVATION_TRIGGERS = 8;

/** One lease row. */
export interface LeaseRow {
  address_int: number;
  address: string;
  /** Pool name ('admin' or the relayed subnet). */
  pool: string;
  /** Holder, or null for a declined address. */
  mac: string | null;
  state: 'bound' | 'released' | 'declined';
  /** Unix ms. */
  expires_at: number;
  updated_at: number;
  hostname: string | null;
}

/** A write to apply. */
export type LeaseOp =
  | { kind: 'bind'; row: LeaseRow; /** Take the address even from another bound MAC (node reservations only). */ force: boolean }
  | { kind: 'release'; address_int: number; mac: string; now: number }
  | { kind: 'decline'; address_int: number; mac: string; until: number; now: number };

/** Data access for DHCP leases. */
export class DhcpLeaseRepo {
  private readonly q;
  private readonly batch: (ops: readonly LeaseOp[], results: Array<Error | null>) => void;

  constructor(private readonly db: Db) {
    this.q = {
      reservation: db.prepare<[string], { address: string | null; name: string }>(
        "SELECT a.address AS address, n.name AS name FROM node_macs m JOIN nodes n ON n.id = m.node_id LEFT JOIN allocations a ON a.node_id = n.id AND a.network = 'admin' WHERE m.mac = ?",
      ),
      reserved: db.prepare<[string], { x: number }>("SELECT 1 AS x FROM allocations WHERE network = 'admin' AND address = ?"),
      gen: db.prepare<[], { gen: number }>('SELECT gen FROM dhcp_reservation_gen WHERE id = 1'),
      triggers: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'dhcp_gen_%'"),
      allocatedIn: db.prepare<[number, number], { a: number }>("SELECT address_int AS a FROM allocations WHERE network = 'admin' AND address_int BETWEEN ? AND ?"),
      all: db.prepare<[], LeaseRow>('SELECT address_int, address, pool, mac, state, expires_at, updated_at, hostname FROM dhcp_leases'),
      get: db.prepare<[number], LeaseRow>('SELECT address_int, address, pool, mac, state, expires_at, updated_at, hostname FROM dhcp_leases WHERE address_int = ?'),
      dropOther: db.prepare('DELETE FROM dhcp_leases WHERE pool = @pool AND mac = @mac AND address_int != @address_int'),
      bind: db.prepare(`
        INSERT INTO dhcp_leases (address_int, address, pool, mac, state, expires_at, updated_at, hostname)
        VALUES (@address_int, @address, @pool, @mac, 'bound', @expires_at, @updated_at, @hostname)
        ON CONFLICT(address_int) DO UPDATE SET pool = excluded.pool, mac = excluded.mac, state = 'bound',
          expires_at = excluded.expires_at, updated_at = excluded.updated_at, hostname = excluded.hostname
        WHERE @force = 1 OR dhcp_leases.mac IS excluded.mac OR dhcp_leases.state = 'released' OR dhcp_leases.expires_at <= excluded.updated_at`),
      release: db.prepare("UPDATE dhcp_leases SET state = 'released', expires_at = @now, updated_at = @now WHERE address_int = @address_int AND mac = @mac AND state = 'bound'"),
      decline: db.prepare("UPDATE dhcp_leases SET state = 'declined', mac = NULL, expires_at = @until, updated_at = @now WHERE address_int = @address_int AND mac = @mac"),
      count: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM dhcp_leases WHERE state = 'bound'"),
    };
    // Transaction wrappers are built once: building one prepares its BEGIN/COMMIT statements.
    this.batch = db.transaction((ops: readonly LeaseOp[], results: Array<Error | null>) => {
      for (const op of ops) {
        try {
          this.applyOne(op);
          results.push(null);
        } catch (e) {
          results.push(e instanceof Error ? e : new Error(errorMessage(e)));
        }
      }
    }).immediate;
  }

  /**
   * The 'admin' allocation and name of the node owning `mac` (one query):
   * null when the MAC is unknown; address null when the node has none.
   */
  reservationByMac(mac: string): { address: string | null; name: string } | null {
    return this.q.reservation.get(mac) ?? null;
  }

  /**
   * Generation of reservation data (bumped by triggers on node_macs, nodes
   * and allocations), or null when the triggers are missing (a later
   * migration rebuilt one of those tables): then nothing may be cached.
   */
  reservationGeneration(): number | null {
    return this.q.triggers.get()!.n === RESERVATION_TRIGGERS ? this.q.gen.get()!.gen : null;
  }

  /** The current generation (cheap; call reservationGeneration once first to know caching is safe). */
  generation(): number {
    return this.q.gen.get()!.gen;
  }

  /** The 'admin' allocations (as numbers) between `lo` and `hi`. */
  allocatedIn(lo: number, hi: number): Set<number> {
    return new Set(this.q.allocatedIn.all(lo, hi).map((r) => r.a));
  }

  /** True when `address` is a node's 'admin' allocation. */
  isAllocated(address: string): boolean {
    return this.q.reserved.get(address) !== undefined;
  }

  /** All rows (loaded once at start into the in-memory index). */
  all(): LeaseRow[] {
    return this.q.all.all();
  }

  /** The row of one address. */
  get(addressInt: number): LeaseRow | undefined {
    return this.q.get.get(addressInt);
  }

  /** Number of bound rows (expired or not). */
  boundCount(): number {
    return this.q.count.get()!.n;
  }

  /**
   * Apply one op; it either applies completely or changes nothing. A bind is
   * normally one statement (the guarded upsert); only when the MAC holds
   * another row in the pool (UNIQUE (pool, mac)) is that row dropped first,
   * after checking that the upsert will be allowed.
   */
  private applyOne(op: LeaseOp): void {
    if (op.kind === 'bind') {
      const r = op.row;
      if (r.mac === null) throw new CrowbarError('internal', 'bind without a MAC');
      const args = { ...r, force: op.force ? 1 : 0 };
      let res;
      try {
        res = this.q.bind.run(args);
      } catch (e) {
        if (!/UNIQUE/.test(errorMessage(e))) throw e;
        const cur = this.q.get.get(r.address_int);
        if (cur && !op.force && cur.mac !== r.mac && cur.state !== 'released' && cur.expires_at > r.updated_at)
          throw new CrowbarError('store.conflict', `address ${r.address} is bound to another MAC`);
        this.q.dropOther.run({ pool: r.pool, mac: r.mac, address_int: r.address_int });
        res = this.q.bind.run(args);
      }
      if (res.changes !== 1) throw new CrowbarError('store.conflict', `address ${r.address} is bound to another MAC`);
    } else if (op.kind === 'release') {
      this.q.release.run({ address_int: op.address_int, mac: op.mac, now: op.now });
    } else {
      this.q.decline.run({ address_int: op.address_int, mac: op.mac, until: op.until, now: op.now });
    }
  }

  /**
   * Apply `ops` in one transaction (one commit, one fsync). A failing op
   * changes nothing (see applyOne) and is reported in the
   * result (null = applied). Throws only when the commit itself fails.
   */
  applyBatch(ops: readonly LeaseOp[]): Array<Error | null> {
    const results: Array<Error | null> = [];
    this.batch(ops, results);
    return results;
  }
}
