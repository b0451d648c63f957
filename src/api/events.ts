/**
 * Live events and the board: GET /api/v1/events/stream (Server-Sent Events,
 * replay from Last-Event-ID or ?after=), GET /api/v1/board (node summaries +
 * the stream cursor to resume from), and the unboxer clock
 * (GET /api/v1/timings, GET /api/v1/nodes/{name}/timings).
 */
import { PassThrough } from 'node:stream';
import type { Server } from '@hapi/hapi';
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import { credentialsStillValid } from './auth.js';
import { nodeSummary, type EventFeed, type StreamEvent } from '../services/feed.js';
import type { NodeService } from '../services/nodes.js';
import { eventMatches } from '../services/webhooks.js';
import { batchTimings, nodeTimings } from '../services/timings.js';
import type { EventLog } from '../store/event-log.js';
import type { NodeRepo } from '../store/nodes.js';

/** Limits of the stream. */
export interface StreamLimits {
  /** Events replayed at most; beyond, the client gets `stream.reset` and reloads. */
  replayMax: number;
  /** Comment line interval keeping proxies and clients from timing out. */
  heartbeatMs: number;
  /** A client that lets this much pile up unread is dropped. */
  maxBufferedBytes: number;
  /** Concurrent streams at most. */
  maxClients: number;
}

/** Default limits. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { replayMax: 5000, heartbeatMs: 15_000, maxBufferedBytes: 4 * 1024 * 1024, maxClients: 256 };

/** Encode one event in text/event-stream format. */
export function sseFrame(e: StreamEvent): string {
  const data = JSON.stringify({ type: e.type, id: e.id, at: e.at, data: e.data });
  return `${e.id !== null ? `id: ${e.id}\n` : ''}data: ${data}\n\n`;
}

/** Handle to close every open stream (at shutdown, so the HTTP server can stop). */
export interface StreamHub {
  closeAll(): void;
  readonly open: number;
}

function parseAfter(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new CrowbarError('bad_request', `Last-Event-ID/after: not an event id: ${JSON.stringify(v.slice(0, 40))}`);
  return Number(v);
}

/** Register the stream, board and timing routes. */
export function registerEventRoutes(
  server: Server,
  feed: EventFeed,
  nodes: NodeService,
  repo: NodeRepo,
  log: EventLog,
  clock: Clock,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
): StreamHub {
  const open = new Set<() => void>();
  server.route([
    {
      method: 'GET',
      path: '/api/v1/events/stream',
      options: { description: 'Server-Sent Events: node transitions (id = node event id, replay with Last-Event-ID or ?after=N), proposal and other events; ?types=node.*,proposal.*' },
      handler: (req, h) => {
        if (open.size >= limits.maxClients) throw new CrowbarError('rate_limited', 'too many event streams open', { retry_after: 5 });
        const after = parseAfter(req.headers['last-event-id']) ?? parseAfter(req.query.after);
        const types = typeof req.query.types === 'string' && req.query.types ? req.query.types.split(',').map((t) => t.trim()).filter(Boolean) : ['*'];
        const want = (t: string) => types.some((p) => eventMatches(p, t));
        const stream = new PassThrough();
        let lastSent = after ?? 0;
        let closed = false;
        let unsub: () => void = () => {};
        let beat: NodeJS.Timeout | undefined;
        const close = () => {
          if (closed) return;
          closed = true;
          unsub();
          clearInterval(beat);
          open.delete(close);
          stream.end();
        };
        const send = (e: StreamEvent) => {
          if (closed) return;
          if (e.id !== null) {
            if (e.id <= lastSent) return;
            lastSent = e.id;
          }
          if (!want(e.type)) return;
          stream.write(sseFrame(e));
          if (stream.writableLength > limits.maxBufferedBytes) close();
        };
        stream.write(`retry: 3000\n: crowbar event stream\n\n`);
        if (after !== undefined) {
          const missed = feed.replay(after, limits.replayMax + 1);
          if (missed.length > limits.replayMax) {
            stream.write(sseFrame({ id: null, type: 'stream.reset', at: clock.now(), data: { reason: 'too many missed events; reload the snapshot', cursor: feed.cursor() } }));
            lastSent = feed.cursor();
          } else for (const e of missed) send(e);
        }
        unsub = feed.subscribe(send);
        beat = setInterval(() => {
          if (closed) return;
          // A stream outlives neither its session (logout, expiry, user deleted) nor its token (revoked).
          if (!credentialsStillValid(req)) {
            stream.write(sseFrame({ id: null, type: 'stream.closed', at: clock.now(), data: { reason: 'credentials no longer valid; log in again' } }));
            close();
            return;
          }
          stream.write(`: ping ${clock.now()}\n\n`);
        }, limits.heartbeatMs);
        beat.unref();
        open.add(close);
        req.raw.req.once('close', close);
        stream.once('close', close);
        return h
          .response(stream)
          .type('text/event-stream; charset=utf-8')
          .header('cache-control', 'no-cache, no-store')
          .header('x-accel-buffering', 'no')
          .compressed('identity');
      },
    },
    {
      method: 'GET',
      path: '/api/v1/board',
      options: { description: 'Node summaries for the console board (state bucket, rack, chassis) and the stream cursor to resume from' },
      handler: () => {
        const cursor = feed.cursor();
        return { cursor, nodes: nodes.list().map(nodeSummary) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/timings',
      options: { description: 'Unboxer clock for the whole batch: time per phase (median, p90, max), wall time, slowest phase' },
      handler: () => batchTimings(log.all(), clock.now()),
    },
    {
      method: 'GET',
      path: '/api/v1/nodes/{name}/timings',
      options: { description: 'Unboxer clock for one node: each phase with its duration, slowest highlighted' },
      handler: (req) => {
        const n = nodes.get(String(req.params.name));
        return nodeTimings(n.name, repo.events(n.id, 10_000), clock.now());
      },
    },
  ]);
  return {
    closeAll: () => {
      for (const c of [...open]) c();
    },
    get open() {
      return open.size;
    },
  };
}
