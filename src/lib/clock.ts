/** Time source, injected everywhere so tests can drive time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** High-resolution wall time in nanoseconds since the Unix epoch (for NTP). */
  nowNs(): bigint;
}

const hrBase = process.hrtime.bigint();
const wallBase = BigInt(Date.now()) * 1_000_000n;

/** The real clock: wall time with monotonic sub-millisecond resolution. */
export const systemClock: Clock = {
  now: () => Date.now(),
  nowNs: () => wallBase + (process.hrtime.bigint() - hrBase),
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
