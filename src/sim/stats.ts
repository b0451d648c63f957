/**
 * Phase timings of a simulation: the first time each machine reached each
 * phase, turned into per-phase latencies with p50/p95/p99 (nearest rank).
 */

/** Percentiles of one series, milliseconds. */
export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `xs` (empty: zeros). */
export function percentiles(xs: readonly number[]): Percentiles {
  if (xs.length === 0) return { n: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return { n: s.length, p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] };
}

/** The phases reported, as (name, from, to) over the first-reached timestamps. */
export const PHASES: ReadonlyArray<readonly [string, string, string]> = [
  ['dhcp', 'power-on', 'dhcp'],
  ['pxe-to-script', 'dhcp', 'script'],
  ['discovery', 'power-on', 'registered'],
  ['allocation-wait', 'registered', 'allocated'],
  ['hardware-install', 'allocated', 'hardware-installed'],
  ['reboot-to-installer', 'hardware-installed', 'installing'],
  ['install', 'installing', 'installed'],
  ['reboot-and-join', 'installed', 'ready'],
  ['total', 'power-on', 'ready'],
];

/** First timestamp per phase, per machine. */
export class PhaseLog {
  private readonly first = new Map<number, Map<string, number>>();

  /** Record that machine `id` reached `phase` at `t` (kept only the first time). */
  mark(id: number, phase: string, t: number): void {
    let m = this.first.get(id);
    if (!m) this.first.set(id, (m = new Map()));
    if (!m.has(phase)) m.set(phase, t);
  }

  /** When machine `id` first reached `phase`. */
  at(id: number, phase: string): number | undefined {
    return this.first.get(id)?.get(phase);
  }

  /** Latencies per phase over machines that reached both ends. */
  summary(): Record<string, Percentiles> {
    const out: Record<string, Percentiles> = {};
    for (const [name, a, b] of PHASES) {
      const xs: number[] = [];
      for (const m of this.first.values()) {
        const ta = m.get(a);
        const tb = m.get(b);
        if (ta !== undefined && tb !== undefined) xs.push(tb - ta);
      }
      out[name] = percentiles(xs);
    }
    return out;
  }
}
