/**
 * The "unboxer clock": time spent in each lifecycle phase, per node and for
 * the whole batch, computed from the node event log. A phase is the time
 * between entering a state and leaving it; the current state counts up to
 * `now` and is marked open. `ready` is where a node ends up, not a phase of
 * getting there, and `problem` is a failure waiting for an operator: neither
 * is ever the slowest phase (both are still listed).
 */
import { NODE_STATES, type NodeEvent } from '../model/node.js';

/** One phase of one node. */
export interface Phase {
  state: string;
  start: number;
  end: number;
  ms: number;
  open: boolean;
}

/** Timings of one node. */
export interface NodeTimings {
  node: string;
  phases: Phase[];
  /** Total of phases before the node reached ready (or so far). */
  total_ms: number;
  /** Index into phases of the longest non-terminal phase, or -1. */
  slowest: number;
  ready_at: number | null;
}

/** Aggregate of one state across the batch. */
export interface PhaseStats {
  state: string;
  nodes: number;
  total_ms: number;
  median_ms: number;
  p90_ms: number;
  max_ms: number;
  max_node: string;
}

/** Batch timings. */
export interface BatchTimings {
  nodes: number;
  ready: number;
  first_event_at: number | null;
  last_ready_at: number | null;
  /** From the first event to the last node reaching ready (or now). */
  wall_ms: number;
  phases: PhaseStats[];
  /** State with the largest median (the batch's bottleneck), or null. */
  slowest: string | null;
}

const TERMINAL = new Set(['ready', 'delete']);
/** States that are not a phase of getting ready (a failure, waiting for an operator): listed, never the slowest. */
const NOT_A_PHASE = new Set(['problem']);
/** Display order of phases: the node states in lifecycle order (src/model/node.ts), without `delete`. */
export const PHASE_ORDER: readonly string[] = NODE_STATES.filter((s) => s !== 'delete');

/** Timings of one node from its events (any order). */
export function nodeTimings(node: string, events: readonly NodeEvent[], now: number): NodeTimings {
  const ev = [...events].sort((a, b) => a.id - b.id);
  const phases: Phase[] = [];
  let readyAt: number | null = null;
  for (let i = 0; i < ev.length; i++) {
    const e = ev[i];
    const next = ev[i + 1];
    const end = next ? next.at : now;
    phases.push({ state: e.to_state, start: e.at, end, ms: Math.max(0, end - e.at), open: !next });
    if (e.to_state === 'ready' && readyAt === null) readyAt = e.at;
  }
  let slowest = -1;
  let total = 0;
  phases.forEach((p, i) => {
    if (TERMINAL.has(p.state)) return;
    if (readyAt === null || p.start < readyAt) total += p.ms;
    if (!NOT_A_PHASE.has(p.state) && (slowest < 0 || p.ms > phases[slowest].ms)) slowest = i;
  });
  return { node, phases, total_ms: total, slowest, ready_at: readyAt };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Batch timings from every node's events (grouped by node_id). */
export function batchTimings(events: readonly NodeEvent[], now: number): BatchTimings {
  const byNode = new Map<number, NodeEvent[]>();
  for (const e of events) {
    const l = byNode.get(e.node_id);
    if (l) l.push(e);
    else byNode.set(e.node_id, [e]);
  }
  const per = new Map<string, { ms: number[]; max: number; maxNode: string }>();
  let first: number | null = null;
  let lastReady: number | null = null;
  let ready = 0;
  let allReady = true;
  for (const evs of byNode.values()) {
    const t = nodeTimings(evs[0].node_name, evs, now);
    for (const e of evs) if (first === null || e.at < first) first = e.at;
    if (t.ready_at !== null) {
      ready++;
      if (lastReady === null || t.ready_at > lastReady) lastReady = t.ready_at;
    } else allReady = false;
    // Sum time per state per node (a state may be entered twice).
    const sums = new Map<string, number>();
    for (const p of t.phases) if (!TERMINAL.has(p.state)) sums.set(p.state, (sums.get(p.state) ?? 0) + p.ms);
    for (const [state, ms] of sums) {
      const s = per.get(state) ?? { ms: [], max: -1, maxNode: '' };
      s.ms.push(ms);
      if (ms > s.max) {
        s.max = ms;
        s.maxNode = t.node;
      }
      per.set(state, s);
    }
  }
  const phases: PhaseStats[] = [...per.entries()]
    .map(([state, s]) => {
      const sorted = [...s.ms].sort((a, b) => a - b);
      return { state, nodes: sorted.length, total_ms: sorted.reduce((a, b) => a + b, 0), median_ms: quantile(sorted, 0.5), p90_ms: quantile(sorted, 0.9), max_ms: s.max, max_node: s.maxNode };
    })
    .sort((a, b) => rank(a.state) - rank(b.state));
  let slowest: string | null = null;
  for (const p of phases) if (!NOT_A_PHASE.has(p.state) && (slowest === null || p.median_ms > phases.find((q) => q.state === slowest)!.median_ms)) slowest = p.state;
  const end = allReady && lastReady !== null ? lastReady : now;
  return { nodes: byNode.size, ready, first_event_at: first, last_ready_at: lastReady, wall_ms: first === null ? 0 : Math.max(0, end - first), phases, slowest };
}

function rank(s: string): number {
  const i = PHASE_ORDER.indexOf(s);
  return i < 0 ? PHASE_ORDER.length : i;
}
