/** Time source, injected everywhere so tests can drive time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** High-resolution wall time in nanoseconds since the Unix epoch (for NTP). */
  nowNs(): bigint;
}

/**
 * Anchor the high-resolution clock to the wall clock at a millisecond edge of
 * Date.now() (spins for at most ~1 ms), so that the anchor is exact to a few
 * microseconds instead of up to 1 ms off.
 */
function anchor(): { hr: bigint; wall: bigint } {
  const start = Date.now();
  let now = start;
  for (let i = 0; i < 10_000_000 && now === start; i++) now = Date.now();
  return { hr: process.hrtime.bigint(), wall: BigInt(now) * 1_000_000n };
}

let base = anchor();
const MS = 1_000_000n;

/**
 * The real clock: wall time with monotonic sub-millisecond resolution (for
 * NTP). The estimate must stay within the millisecond Date.now() reports;
 * when it leaves it (the wall clock was stepped), it is re-anchored, so NTP
 * never serves a time that drifted away from the system's.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  nowNs: () => {
    const est = base.wall + (process.hrtime.bigint() - base.hr);
    const d = est - BigInt(Date.now()) * MS;
    if (d < -MS / 5n || d > MS + MS / 5n) {
      base = anchor();
      return base.wall + (process.hrtime.bigint() - base.hr);
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
