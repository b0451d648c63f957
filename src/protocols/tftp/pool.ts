/**
 * A small pool of worker threads that run TFTP transfers, so concurrent
 * transfers use every core (tftpd-hpa forks a process per transfer; one
 * event loop is one core). The main thread keeps every decision: the request
 * is decoded, validated, rate-limited and resolved through the FileSource
 * there (server.ts). Only the resolved transfer crosses: an open descriptor
 * (or a generated file's bytes), its size, the negotiated options, the retry
 * policy and the client's address. The worker binds the transfer's own port
 * and runs the same ReadTransfer state machine (worker.ts).
 *
 * Each transfer reports back once ('end' with its TransferResult), so logs,
 * records and counts stay on the main thread. A worker that throws or is
 * killed fails its transfers (reported like any failed transfer) and is
 * replaced; while no worker is available the server runs transfers in
 * process. stop() ends every worker thread.
 */
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Negotiated } from './options.js';
import { failedResult, type RetryPolicy, type TransferResult } from './transfer.js';
import type { DatagramKind } from './socket-transfer.js';

/** A resolved transfer, as handed to a worker. */
export interface WorkerJob {
  id: number;
  /** Open descriptor of the file (owned by the main thread), or */
  fd?: number;
  /** the bytes of a generated file. */
  data?: Uint8Array;
  size: number;
  netascii: boolean;
  negotiated: Negotiated;
  retry: RetryPolicy;
  /** Local address to bind the transfer socket to. */
  bind: string;
  /** Client address and port (the transfer socket is connected to them). */
  address: string;
  port: number;
  /** Datagram path of the transfer socket (chosen on the main thread, datagram.ts). */
  datagram: DatagramKind;
  /** The native addon's file, when `datagram` is native (each thread loads it). */
  addonPath?: string;
}

/** Messages to a worker. */
export type ToWorker =
  | { type: 'run'; job: WorkerJob }
  | { type: 'abort'; id: number; reason: string; notifyClient: boolean }
  | { type: 'stop' }
  | { type: 'crash' };

/** Messages from a worker. `started` is false when no transfer socket could be set up. */
export type FromWorker = { type: 'ready' } | { type: 'started'; id: number; tid: number } | { type: 'end'; id: number; started: boolean; result: TransferResult };

/** A transfer in progress (in process or on a worker). */
export interface RunningTransfer {
  abort(reason: string, notifyClient?: boolean): void;
}

/**
 * How a transfer ended, and whether it ever had its own socket. `tid` is the
 * port of the transfer socket when its worker died with it running (the caller
 * may tell the client from that port; the dead thread's socket is closed).
 */
export type PoolEnd = (r: TransferResult, started: boolean, tid?: number) => void;

/** Construction options of the pool. */
export interface TransferPoolOptions {
  /** Number of worker threads (> 0). */
  size: number;
  log: Logger;
  /** Starts one worker thread running worker.ts (`spawnTransferWorker`; tests may wrap it). */
  spawn: () => Worker;
  /** Millisecond clock (respawn backoff). */
  now: () => number;
}

interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  bornAt: number;
  /** Consecutive deaths soon after start (backoff). */
  quickDeaths: number;
  respawnTimer: NodeJS.Timeout | null;
  jobs: Map<number, PoolEnd>;
  /** Transfer ports of the running jobs (as reported by the worker). */
  tids: Map<number, number>;
}


/** The pool of transfer worker threads. */
export class TransferPool {
  private readonly slots: Slot[] = [];
  private seq = 0;
  private stopping = false;
  /** Counters for metrics and tests. */
  readonly stats = { dispatched: 0, deaths: 0, respawns: 0 };

  constructor(private readonly o: TransferPoolOptions) {
    for (let i = 0; i < o.size; i++) this.slots.push({ index: i, worker: null, ready: false, bornAt: 0, quickDeaths: 0, respawnTimer: null, jobs: new Map(), tids: new Map() });
  }

  /** Start the workers and wait (up to 15 s) until each has loaded; a worker that fails is logged and retried later. */
  async start(): Promise<void> {
    this.stopping = false;
    await Promise.all(this.slots.map((s) => this.spawn(s)));
  }

  /** Live worker threads. */
  get threads(): number {
    return this.slots.filter((s) => s.worker !== null).length;
  }

  /** True when at least one worker can take a transfer. */
  get available(): boolean {
    return !this.stopping && this.slots.some((s) => s.worker !== null && s.ready);
  }

  /** Transfers running per worker (index order). */
  get load(): number[] {
    return this.slots.map((s) => s.jobs.size);
  }

  /**
   * Hand a resolved transfer to the least busy worker. Returns null when no
   * worker is available (the caller runs it in process). `onEnd` is called
   * exactly once, on the main thread.
   */
  run(job: Omit<WorkerJob, 'id'>, onEnd: PoolEnd): RunningTransfer | null {
    let best: Slot | null = null;
    for (const s of this.slots) if (s.worker && s.ready && (!best || s.jobs.size < best.jobs.size)) best = s;
    if (!best || this.stopping) return null;
    const slot = best;
    const id = ++this.seq;
    slot.jobs.set(id, onEnd);
    this.stats.dispatched++;
    this.post(slot, { type: 'run', job: { ...job, id } });
    return { abort: (reason, notifyClient = false) => this.post(slot, { type: 'abort', id, reason, notifyClient }) };
  }

  /** Terminate worker `index` as if it had been killed (fault injection, tests). Its transfers fail; it is replaced. */
  async kill(index: number): Promise<void> {
    await this.slots[index]?.worker?.terminate();
  }

  /** Make worker `index` throw an uncaught exception (fault injection, tests). */
  crash(index: number): void {
    const s = this.slots[index];
    if (s) this.post(s, { type: 'crash' });
  }

  /** Stop every worker: running transfers are aborted (the client gets an ERROR) and reported; resolves when all threads have exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.respawnTimer) clearTimeout(s.respawnTimer);
        s.respawnTimer = null;
        const w = s.worker;
        if (!w) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        this.post(s, { type: 'stop' });
        // A worker that does not finish its aborts in time is terminated.
        const t = setTimeout(() => void w.terminate(), 2000);
        await exited;
        clearTimeout(t);
      }),
    );
  }

  private post(s: Slot, m: ToWorker): void {
    try {
      s.worker?.postMessage(m);
    } catch (e) {
      this.o.log.warn('tftp: could not post to transfer worker', { worker: s.index, error: errorMessage(e) });
    }
  }

  private spawn(s: Slot): Promise<void> {
    s.respawnTimer = null;
    let w: Worker;
    try {
      w = this.o.spawn();
    } catch (e) {
      this.died(s, null, errorMessage(e));
      return Promise.resolve();
    }
    s.worker = w;
    s.ready = false;
    s.bornAt = this.o.now();
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.o.log.error('tftp: transfer worker did not start in 15 s', { worker: s.index });
        resolve();
      }, 15_000);
      t.unref();
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          s.ready = true;
          clearTimeout(t);
          resolve();
          return;
        }
        if (m.type === 'started') {
          if (s.jobs.has(m.id)) s.tids.set(m.id, m.tid);
          return;
        }
        const end = s.jobs.get(m.id);
        if (!end) return;
        s.jobs.delete(m.id);
        s.tids.delete(m.id);
        end(m.result, m.started);
      });
      w.on('error', (e) => this.o.log.error('tftp: transfer worker failed', { worker: s.index, error: e.message }));
      w.on('exit', (code) => {
        clearTimeout(t);
        resolve();
        if (s.worker !== w) return;
        this.died(s, w, `exited with code ${code}`);
      });
    });
  }

  /** A worker is gone: fail its transfers, then replace it (with backoff when it keeps dying at start). */
  private died(s: Slot, w: Worker | null, why: string): void {
    s.worker = null;
    s.ready = false;
    const jobs = [...s.jobs.entries()];
    const tids = new Map(s.tids);
    s.jobs.clear();
    s.tids.clear();
    const reason = this.stopping ? 'aborted: server shutting down' : `worker died: ${why}`;
    for (const [id, end] of jobs) end(failedResult(reason), true, tids.get(id));
    if (this.stopping) return;
    this.stats.deaths++;
    const lived = w ? this.o.now() - s.bornAt : 0;
    s.quickDeaths = lived < 1000 ? s.quickDeaths + 1 : 0;
    const delay = s.quickDeaths === 0 ? 0 : Math.min(30_000, 500 * 2 ** (s.quickDeaths - 1));
    this.o.log.error('tftp: transfer worker died; replacing it', { worker: s.index, reason: why, failed_transfers: jobs.length, respawn_in_ms: delay });
    s.respawnTimer = setTimeout(() => {
      this.stats.respawns++;
      void this.spawn(s);
    }, delay);
    s.respawnTimer.unref();
  }
}

/**
 * Start one transfer worker thread. From source (under tsx) the worker
 * registers tsx before loading worker.ts; from dist/ it loads worker.js.
 */
export function spawnTransferWorker(): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const entry = new URL('./worker.ts', self).href;
    const api = import.meta.resolve('tsx/esm/api');
    return new Worker(`import(${JSON.stringify(api)}).then((t) => t.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`, { eval: true });
  }
  return new Worker(new URL('./worker.js', self));
}
