/** Time source, injected everywhere so tests can drive time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** High-resolution wall time in nanoseconds since the Unix epoch (for NTP). */
  nowNs(): bigint;
}

let hrBase = process.hrtime.bigint();
let wallBase = BigInt(Date.now()) * 1_000_000n;
const REANCHOR_NS = 2_000_000n;

/**
 * The real clock: wall time with monotonic sub-millisecond resolution. The
 * high-resolution reading is re-anchored to the wall clock whenever the two
 * disagree by more than 2 ms (the wall clock was stepped or slewed), so NTP
 * never serves a time that drifted away from the system's.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  nowNs: () => {
    const hr = process.hrtime.bigint();
    const est = wallBase + (hr - hrBase);
    const wall = BigInt(Date.now()) * 1_000_000n;
    const d = est - wall;
    if (d > REANCHOR_NS || d < -REANCHOR_NS) {
      hrBase = hr;
      wallBase = wall;
      return wall;
    }
    return est;
  },
};

/** A manually driven clock for tests. */
export class ManualClock implements Clock {
  constructor(private ms: number = 1_700_000_000_000) {}
  now(): number {
    return this.ms;
  }
  nowNs(): bigint {
    return BigInt(this.ms) * 1_000_000n;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
