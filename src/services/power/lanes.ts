/**
 * Per-BMC lanes: at most one operation (one session) in flight per BMC, a
 * minimum gap between two sessions to the same BMC (pacing), and a bounded
 * queue per BMC. Different BMCs never wait for each other, so a hundred
 * unreachable BMCs cannot slow a healthy one.
 */
import { CrowbarError } from '../../lib/errors.js';
import type { Clock } from '../../lib/clock.js';

interface Lane {
  tail: Promise<void>;
  lastEnd: number;
  queued: number;
}

/** Serializes work per key with pacing. */
export class BmcLanes {
  private readonly lanes = new Map<string, Lane>();
  private active = 0;

  constructor(
    private readonly clock: Clock,
    private readonly paceMs: number,
    private readonly maxQueued = 16,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Operations currently running (all BMCs). */
  get running(): number {
    return this.active;
  }

  /** Run `fn` in the lane of `key` once earlier work there finished and the pace allows. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { tail: Promise.resolve(), lastEnd: 0, queued: 0 };
      this.lanes.set(key, lane);
    }
    if (lane.queued >= this.maxQueued) throw new CrowbarError('rate_limited', `too many queued operations for BMC ${key}`);
    const prev = lane.tail;
    let release!: () => void;
    lane.tail = new Promise<void>((r) => (release = r));
    lane.queued++;
    try {
      await prev;
      const wait = lane.lastEnd + this.paceMs - this.clock.now();
      if (wait > 0) await this.sleep(wait);
      this.active++;
      try {
        return await fn();
      } finally {
        this.active--;
      }
    } finally {
      lane.lastEnd = this.clock.now();
      lane.queued--;
      release();
      // Forget idle lanes once their pacing window is over, so the map stays small.
      if (lane.queued === 0) {
        const l = lane;
        setTimeout(() => {
          if (l.queued === 0 && this.lanes.get(key) === l) this.lanes.delete(key);
        }, this.paceMs + 10).unref();
      }
    }
  }
}
