/**
 * The event feed behind the SSE stream and webhooks. Node events come from
 * the node_events table (their ids are the stream ids, so a client that
 * reconnects with Last-Event-ID gets exactly what it missed); other bus events
 * (proposal.*, ...) pass through without an id. Each node event carries a
 * summary of the node as it is now, so the console can update without a fetch.
 */
import type { Logger } from '../lib/logger.js';
import type { Node, NodeEvent } from '../model/node.js';
import type { EventLog } from '../store/event-log.js';
import type { NodeRepo } from '../store/nodes.js';
import type { BusEvent, EventBus } from './events.js';

/** Crowbar's colour buckets for the board. */
export type Bucket = 'ready' | 'pending' | 'building' | 'failed' | 'unknown';

const BUILDING = new Set([
  'hardware-installing',
  'hardware-installed',
  'installing',
  'installed',
  'readying',
  'hardware-updating',
  'hardware-updated',
  'applying',
  'recovering',
  'reset',
  'reinstall',
  'update',
]);

/**
 * Bucket of a state: ready (green), pending = discovered/waiting for
 * allocation (blue), building = hardware-installing .. readying/applying
 * (yellow), failed = problem (red), anything else unknown (grey).
 */
export function bucketOf(state: string): Bucket {
  if (state === 'ready') return 'ready';
  if (state === 'discovered' || state === 'discovering') return 'pending';
  if (state === 'problem') return 'failed';
  if (BUILDING.has(state)) return 'building';
  return 'unknown';
}

/** What the console needs to place a node on the board. */
export interface NodeSummary {
  name: string;
  state: string;
  bucket: Bucket;
  allocated: boolean;
  rack: string | null;
  chassis: string | null;
  problem_reason: string | null;
  state_changed_at: number;
  mac: string | null;
}

/** An event as streamed and delivered to webhooks. */
export interface StreamEvent {
  /** node_events id for node events; null for events that are not replayable. */
  id: number | null;
  type: string;
  at: number;
  data: Record<string, unknown>;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length ? v : typeof v === 'number' ? String(v) : null;
}

/** Rack and chassis of a node from its inventory (`rack`/`chassis` or `location.{rack,chassis}`). */
export function nodeLocation(inv: Record<string, unknown>): { rack: string | null; chassis: string | null } {
  const loc = (inv.location && typeof inv.location === 'object' ? inv.location : {}) as Record<string, unknown>;
  return { rack: str(inv.rack) ?? str(loc.rack), chassis: str(inv.chassis) ?? str(loc.chassis) };
}

/** The board summary of a node. */
export function nodeSummary(n: Node): NodeSummary {
  const { rack, chassis } = nodeLocation(n.inventory);
  return { name: n.name, state: n.state, bucket: bucketOf(n.state), allocated: n.allocated, rack, chassis, problem_reason: n.problem_reason, state_changed_at: n.state_changed_at, mac: n.macs[0] ?? null };
}

/** Event type of a node_events row. */
export function nodeEventType(e: NodeEvent, exists: boolean): string {
  if (e.from_state === null) return 'node.created';
  if (e.to_state === 'delete' && !exists) return 'node.deleted';
  return 'node.transition';
}

/** Fan-out of stream events, reading node events from the store. */
export class EventFeed {
  private readonly subs = new Set<(e: StreamEvent) => void>();
  private lastId = 0;
  private unsub: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: EventLog,
    private readonly nodes: NodeRepo,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    /** Safety poll for node events written without a bus publish. */
    private readonly pollMs = 1000,
  ) {}

  /** Start following the bus (and the table). */
  start(): void {
    if (this.unsub) return;
    this.lastId = this.log.maxId();
    this.unsub = this.bus.subscribe((e) => this.onBus(e));
    this.timer = setInterval(() => this.pump(), this.pollMs);
    this.timer.unref();
  }

  /** Stop following; subscribers are told by `onClose`. */
  stop(): void {
    this.unsub?.();
    this.unsub = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Id of the newest node event the feed has seen (for snapshots). */
  cursor(): number {
    this.pump();
    return this.lastId;
  }

  /** Subscribe to live events; returns the unsubscribe function. */
  subscribe(fn: (e: StreamEvent) => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  /** Number of live subscribers. */
  get subscribers(): number {
    return this.subs.size;
  }

  /** Stored node events after `afterId` (replay), at most `limit`. */
  replay(afterId: number, limit = 5000): StreamEvent[] {
    const out: StreamEvent[] = [];
    const cache = new Map<number, Node | undefined>();
    for (const e of this.log.since(afterId, limit)) out.push(this.toStream(e, cache));
    return out;
  }

  private toStream(e: NodeEvent, cache: Map<number, Node | undefined>): StreamEvent {
    if (!cache.has(e.node_id)) cache.set(e.node_id, this.nodes.get(e.node_id));
    const n = cache.get(e.node_id);
    return {
      id: e.id,
      type: nodeEventType(e, n !== undefined),
      at: e.at,
      data: { node: e.node_name, from: e.from_state, to: e.to_state, cause: e.cause, summary: n ? nodeSummary(n) : null },
    };
  }

  private onBus(e: BusEvent): void {
    if (e.type.startsWith('node.')) {
      this.pump();
      return;
    }
    this.emit({ id: null, type: e.type, at: e.at, data: e.data });
  }

  private pump(): void {
    try {
      for (;;) {
        const rows = this.log.since(this.lastId, 500);
        if (rows.length === 0) return;
        const cache = new Map<number, Node | undefined>();
        for (const r of rows) {
          this.lastId = r.id;
          this.emit(this.toStream(r, cache));
        }
      }
    } catch (err) {
      this.logger.warn('event feed read failed', { error: String(err) });
    }
  }

  private emit(e: StreamEvent): void {
    for (const s of this.subs) {
      try {
        s(e);
      } catch (err) {
        this.logger.warn('event subscriber failed', { error: String(err) });
      }
    }
  }
}
