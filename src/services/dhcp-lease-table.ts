/**
 * The lease table the DHCP policy works on: an in-memory index of every
 * lease row (bounded by the pools' sizes) and of outstanding offers (bounded
 * by `maxOffers`, oldest evicted first), kept in step with SQLite. Changes
 * are visible in memory at once (so two requests handled in one tick never
 * get one address) and committed by group commit: all writes queued during
 * one event-loop turn go in one transaction; each caller's promise resolves
 * only after that commit, so an ACK never leaves before its lease is durable.
 * One commit is in flight at a time and everything that arrives meanwhile
 * is the next batch, so an idle server commits each lease at once and a busy
 * one amortises the fsync over many. With an inline committer (fsync on the
 * event loop) `minCommitGapMs` spaces commits to bound the time spent blocked.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../lib/clock.js';
import { errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { LeaseCommitter } from '../store/dhcp-lease-committer.js';
import type { DhcpLeaseRepo, LeaseOp, LeaseRow } from '../store/dhcp-leases.js';

interface Offer {
  addr: number;
  expires: number;
}

interface Pending {
  op: LeaseOp;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Counters for health and benchmarks. */
export interface LeaseTableStats {
  batches: number;
  ops: number;
  failed: number;
  offersEvicted: number;
  /** Time spent in commits (ms), including fsync. */
  commitMs: number;
}

/** In-memory lease/offer index with group commit to SQLite. */
export class LeaseTable {
  private readonly byAddr = new Map<number, LeaseRow>();
  private readonly byPoolMac = new Map<string, LeaseRow>();
  private readonly offers = new Map<string, Offer>();
  private readonly offeredAddr = new Map<number, string>();
  private pending: Pending[] = [];
  private scheduled = false;
  private inFlight = false;
  private lastCommit = -Infinity;
  /** Counters. */
  readonly stats: LeaseTableStats = { batches: 0, ops: 0, failed: 0, offersEvicted: 0, commitMs: 0 };

  constructor(
    private readonly repo: DhcpLeaseRepo,
    private readonly committer: LeaseCommitter,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly maxOffers: number,
    private readonly minCommitGapMs = 0,
  ) {
    for (const r of repo.all()) this.index(r);
  }

  private index(r: LeaseRow): void {
    this.byAddr.set(r.address_int, r);
    if (r.mac !== null) this.byPoolMac.set(`${r.pool}|${r.mac}`, r);
  }

  private unindex(r: LeaseRow): void {
    if (this.byAddr.get(r.address_int) === r) this.byAddr.delete(r.address_int);
    if (r.mac !== null && this.byPoolMac.get(`${r.pool}|${r.mac}`) === r) this.byPoolMac.delete(`${r.pool}|${r.mac}`);
  }

  /** Number of rows indexed. */
  get size(): number {
    return this.byAddr.size;
  }

  /** Number of outstanding offers. */
  get offerCount(): number {
    return this.offers.size;
  }

  /** The row for an address. */
  row(addr: number): LeaseRow | undefined {
    return this.byAddr.get(addr);
  }

  /** The client's row in a pool (any state). */
  leaseOf(pool: string, mac: string): LeaseRow | undefined {
    return this.byPoolMac.get(`${pool}|${mac}`);
  }

  /** True when `row` is bound to its MAC and not expired at `now`. */
  static active(row: LeaseRow, now: number): boolean {
    return row.state === 'bound' && row.expires_at > now;
  }

  /**
   * True when `addr` may be given to `mac` now: no other MAC holds an
   * unexpired lease, no quarantine is running, no other client holds an
   * unexpired offer of it.
   */
  isFreeFor(addr: number, pool: string, mac: string, now: number): boolean {
    const r = this.byAddr.get(addr);
    if (r && r.mac !== mac && r.state !== 'released' && r.expires_at > now) return false;
    if (r && r.mac === mac && r.state === 'declined' && r.expires_at > now) return false;
    const k = this.offeredAddr.get(addr);
    if (k !== undefined && k !== `${pool}|${mac}`) {
      const o = this.offers.get(k);
      if (o && o.addr === addr && o.expires > now) return false;
      this.dropOfferKey(k);
    }
    return true;
  }

  /** The unexpired offer made to a client, or null. */
  offerOf(pool: string, mac: string, now: number): number | null {
    const o = this.offers.get(`${pool}|${mac}`);
    if (!o) return null;
    if (o.expires <= now) {
      this.dropOfferKey(`${pool}|${mac}`);
      return null;
    }
    return o.addr;
  }

  /** Hold `addr` for `mac` for `holdMs` (RFC 2131 §4.3.1: an offered address is reserved for a while). */
  holdOffer(pool: string, mac: string, addr: number, holdMs: number, now: number): void {
    const k = `${pool}|${mac}`;
    this.dropOfferKey(k);
    // Drop expired offers from the old end; evict the oldest when full.
    for (const [ok, o] of this.offers) {
      if (o.expires > now && this.offers.size < this.maxOffers) break;
      if (o.expires > now) this.stats.offersEvicted++;
      this.dropOfferKey(ok);
    }
    this.offers.set(k, { addr, expires: now + holdMs });
    this.offeredAddr.set(addr, k);
  }

  /** Forget the client's offer (it chose another server, or took the lease). */
  dropOffer(pool: string, mac: string): void {
    this.dropOfferKey(`${pool}|${mac}`);
  }

  private dropOfferKey(k: string): void {
    const o = this.offers.get(k);
    if (!o) return;
    this.offers.delete(k);
    if (this.offeredAddr.get(o.addr) === k) this.offeredAddr.delete(o.addr);
  }

  /**
   * Bind `addr` to `mac` until `expires`. Memory changes at once; resolves
   * after the row is committed; rejects (and restores memory from SQLite)
   * when the commit refused it.
   */
  bind(row: Omit<LeaseRow, 'state' | 'updated_at'>, force: boolean): Promise<void> {
    const now = this.clock.now();
    const full: LeaseRow = { ...row, state: 'bound', updated_at: now };
    const old = this.byAddr.get(full.address_int);
    if (old) this.unindex(old);
    const mine = this.byPoolMac.get(`${full.pool}|${full.mac}`);
    if (mine && mine.address_int !== full.address_int) this.unindex(mine);
    this.index(full);
    this.dropOffer(full.pool, full.mac!);
    return this.enqueue({ kind: 'bind', row: full, force }, [full.address_int, ...(mine ? [mine.address_int] : [])]);
  }

  /** Mark a lease released (RFC 2131 §4.3.4); the row stays for address affinity. */
  release(addr: number, mac: string): Promise<void> {
    const now = this.clock.now();
    const r = this.byAddr.get(addr);
    if (!r || r.mac !== mac || r.state !== 'bound') return Promise.resolve();
    r.state = 'released';
    r.expires_at = now;
    r.updated_at = now;
    return this.enqueue({ kind: 'release', address_int: addr, mac, now }, [addr]);
  }

  /** Quarantine an address a client declined (RFC 2131 §4.3.3) until `until`. */
  decline(addr: number, mac: string, until: number): Promise<void> {
    const now = this.clock.now();
    const r = this.byAddr.get(addr);
    if (!r || r.mac !== mac) return Promise.resolve();
    this.unindex(r);
    this.index({ ...r, mac: null, state: 'declined', expires_at: until, updated_at: now });
    return this.enqueue({ kind: 'decline', address_int: addr, mac, until, now }, [addr]);
  }

  private enqueue(op: LeaseOp, addrs: number[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({
        op,
        resolve,
        reject: (e) => {
          for (const a of addrs) this.reload(a);
          reject(e);
        },
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight || this.pending.length === 0) return;
    this.scheduled = true;
    const wait = this.lastCommit + this.minCommitGapMs - performance.now();
    if (wait <= 0) setImmediate(() => void this.flush());
    else setTimeout(() => void this.flush(), Math.ceil(wait));
  }

  /** Re-read one address (and its holder's rows) from SQLite after a failed write. */
  private reload(addr: number): void {
    const cur = this.byAddr.get(addr);
    if (cur) this.unindex(cur);
    const r = this.repo.get(addr);
    if (r) {
      const other = r.mac !== null ? this.byPoolMac.get(`${r.pool}|${r.mac}`) : undefined;
      if (other) this.unindex(other);
      this.index(r);
    }
  }

  /**
   * Commit everything queued (one transaction). One commit is in flight at a
   * time; what arrives meanwhile forms the next batch (group commit).
   */
  async flush(): Promise<void> {
    this.scheduled = false;
    if (this.inFlight) return;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.inFlight = true;
    const t0 = performance.now();
    let results: Array<Error | null> | null = null;
    let failure: Error | null = null;
    try {
      results = await this.committer.commit(batch.map((p) => p.op));
    } catch (e) {
      failure = e instanceof Error ? e : new Error(errorMessage(e));
    }
    this.lastCommit = performance.now();
    this.stats.commitMs += this.lastCommit - t0;
    this.inFlight = false;
    if (failure || !results) {
      this.stats.failed += batch.length;
      this.log.error('dhcp: lease commit failed; no reply sent for the batch', { ops: batch.length, error: failure?.message });
      for (const p of batch) p.reject(failure ?? new Error('no results'));
    } else {
      this.stats.batches++;
      this.stats.ops += batch.length;
      batch.forEach((p, i) => {
        const err = results[i];
        if (err) {
          this.stats.failed++;
          p.reject(err);
        } else p.resolve();
      });
    }
    this.schedule();
  }

  /** Wait until everything queued is committed (shutdown). */
  async drain(): Promise<void> {
    while (this.pending.length || this.inFlight) {
      if (!this.inFlight) await this.flush();
      else await new Promise((r) => setTimeout(r, 1));
    }
  }
}
