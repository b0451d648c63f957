/**
 * Per-key token bucket with a bounded table: used for per-source rate limits
 * in UDP services and unauthenticated HTTP endpoints. When the table is full
 * the oldest entries are evicted, so a flood of sources cannot grow memory.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    /** Sustained rate per key, in events per second. */
    private readonly ratePerSec: number,
    /** Burst size per key. */
    private readonly burst: number,
    /** Maximum number of keys tracked. */
    private readonly maxKeys = 4096,
  ) {}

  /** Takes one token for `key`; false when the key is over its rate. */
  take(key: string, nowMs: number): boolean {
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.at) / 1000) * this.ratePerSec);
      b.at = nowMs;
      // Refresh insertion order so eviction removes the least recently seen.
      this.buckets.delete(key);
      this.buckets.set(key, b);
    } else {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.burst, at: nowMs };
      this.buckets.set(key, b);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** True when `key` could take a token now (nothing is consumed). */
  peek(key: string, nowMs: number): boolean {
    const b = this.buckets.get(key);
    if (!b) return true;
    return Math.min(this.burst, b.tokens + ((nowMs - b.at) / 1000) * this.ratePerSec) >= 1;
  }

  /** Seconds until `key` has a token again (0 when it has one now). */
  retryAfter(key: string, nowMs: number): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const t = Math.min(this.burst, b.tokens + ((nowMs - b.at) / 1000) * this.ratePerSec);
    return t >= 1 ? 0 : Math.ceil((1 - t) / this.ratePerSec);
  }

  /** Number of keys currently tracked (bounded by maxKeys). */
  get size(): number {
    return this.buckets.size;
  }
}
