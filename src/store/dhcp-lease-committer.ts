/**
 * How lease batches reach the disk. `inlineCommitter` applies a batch on
 * the caller's connection (blocking the event loop for the fsync; used for
 * in-memory databases and tests). `WorkerCommitter` applies it on a worker
 * thread with its own connection to the same file, so the DHCP loop keeps
 * serving while the fsync runs; the promise resolves only after COMMIT
 * returned there (synchronous=FULL: the WAL is on disk).
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { CrowbarError } from '../lib/errors.js';
import type { DhcpLeaseRepo, LeaseOp } from './dhcp-leases.js';

/** Applies one batch of lease writes in one transaction. */
export interface LeaseCommitter {
  /** Resolves with one entry per op (null = applied) after the commit is durable; rejects if the commit failed. */
  commit(ops: readonly LeaseOp[]): Promise<Array<Error | null>>;
  /** Release resources (after the last commit resolved). */
  close(): Promise<void>;
}

/** Commit on the calling thread's connection. */
export function inlineCommitter(repo: DhcpLeaseRepo): LeaseCommitter {
  return {
    commit: async (ops) => repo.applyBatch(ops),
    close: async () => {},
  };
}

type Reply = { id: number; ms?: number; results?: Array<string | null>; error?: string } | { ready: true };

/**
 * Commit on a worker thread (one batch in flight at a time is the caller's
 * job). If the worker dies, commits continue through `fallback` (re-applying
 * a batch that was in flight is safe: every op is idempotent for its MAC).
 */
export class WorkerCommitter implements LeaseCommitter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (r: Array<Error | null>) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private dead: Error | null = null;
  private closing = false;
  /** Duration of the last commit inside the worker (ms). */
  lastCommitMs = 0;
  private readonly ready: Promise<void>;

  constructor(
    dbPath: string,
    private readonly fallback?: LeaseCommitter,
    private readonly onDeath?: (e: Error) => void,
  ) {
    const self = import.meta.url;
    if (self.endsWith('.ts')) {
      // Running from source under tsx: register tsx in the worker, then load the entry.
      const entry = new URL('./dhcp-lease-worker.ts', self).href;
      const api = import.meta.resolve('tsx/esm/api');
      this.worker = new Worker(`import(${JSON.stringify(api)}).then((t) => t.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`, {
        eval: true,
        workerData: { path: dbPath },
      });
    } else {
      this.worker = new Worker(new URL('./dhcp-lease-worker.js', self), { workerData: { path: dbPath } });
    }
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.once('message', (m: Reply) => ('ready' in m ? resolve() : reject(new CrowbarError('internal', 'lease worker: unexpected first message'))));
      this.worker.once('error', reject);
    });
    this.ready.catch(() => {});
    this.worker.on('message', (m: Reply) => {
      if ('ready' in m) return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ms !== undefined) this.lastCommitMs = m.ms;
      if (m.error !== undefined) w.reject(new CrowbarError('internal', `lease commit failed: ${m.error}`));
      else w.resolve(m.results!.map((e) => (e === null ? null : new CrowbarError('store.conflict', e))));
    });
    const die = (e: Error) => {
      if (this.dead) return;
      this.dead = e;
      if (!this.closing) this.onDeath?.(e);
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on('error', (e) => die(new CrowbarError('internal', `lease worker failed: ${e.message}`)));
    this.worker.on('exit', (code) => die(new CrowbarError('internal', `lease worker exited (${code})`)));
  }

  /** Resolves when the worker has opened the database. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  async commit(ops: readonly LeaseOp[]): Promise<Array<Error | null>> {
    if (this.dead && this.fallback && !this.closing) return this.fallback.commit(ops);
    if (this.dead) throw this.dead;
    try {
      return await this.send(ops);
    } catch (e) {
      if (this.dead && this.fallback && !this.closing) return this.fallback.commit(ops);
      throw e;
    }
  }

  private async send(ops: readonly LeaseOp[]): Promise<Array<Error | null>> {
    await this.ready;
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // A JSON string is far cheaper to pass than a structured clone of many objects.
      this.worker.postMessage({ id, ops: JSON.stringify(ops) });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.dead) return;
    const exited = new Promise<void>((res) => this.worker.once('exit', () => res()));
    this.worker.postMessage({ close: true });
    const t = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(t);
  }
}

/**
 * Chooses per batch: inline while commits are fast (an fsync of tens of
 * microseconds costs less than a round trip to a thread), the worker while
 * they are slow (a millisecond-class fsync must not stall the packet loop).
 * The choice follows a moving average of measured commit times, so it
 * adapts to the disk (`thresholdMs`, default 1 ms).
 */
export class AdaptiveCommitter implements LeaseCommitter {
  private avgMs = 0;
  /** Batches committed inline / on the worker. */
  readonly counts = { inline: 0, worker: 0 };

  constructor(
    private readonly inline: LeaseCommitter,
    private readonly worker: WorkerCommitter,
    private readonly thresholdMs = 1,
  ) {}

  async commit(ops: readonly LeaseOp[]): Promise<Array<Error | null>> {
    if (this.avgMs < this.thresholdMs) {
      this.counts.inline++;
      const t0 = performance.now();
      try {
        return await this.inline.commit(ops);
      } finally {
        this.avgMs = 0.8 * this.avgMs + 0.2 * (performance.now() - t0);
      }
    }
    this.counts.worker++;
    const r = await this.worker.commit(ops);
    // Decay towards the worker's measurement so a faster disk brings commits back inline.
    this.avgMs = 0.8 * this.avgMs + 0.2 * this.worker.lastCommitMs;
    return r;
  }

  async close(): Promise<void> {
    await this.worker.close();
  }
}
