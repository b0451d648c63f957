/**
 * Admission of machine traffic: operators first.
 *
 * One event loop serves the operator's API and console and every machine's
 * agent. When a rack powers on together, machine requests (registrations,
 * agent polls, transitions, boot scripts) arrive faster than the loop can
 * answer them; served first come first served, an operator's request waited
 * behind seconds of agent work (docs/simulator.md: API p99 25 s at 1000
 * machines). Here machine requests wait in a FIFO queue and are let through
 * a few per event-loop turn, so that between two batches the loop accepts and
 * answers whatever else arrived (operator requests are never queued), DHCP
 * and TFTP packets included. The batch adapts to the length of the turns
 * (additive increase while turns are shorter than `turnMs`, halved when
 * longer), which bounds how long an operator's request waits for the loop.
 * When the queue is long, requests a machine repeats anyway (its agent's
 * poll, a registration, a run-list check) get `503` with `Retry-After`
 * instead of waiting; state changes (transitions, logs, hardware-install,
 * install reports) and boot files are never refused, only queued.
 *
 * The gate decides nothing about what a request may do (auth does); it only
 * decides when a machine request starts.
 */
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';
import type { Logger } from '../lib/logger.js';

/** How a request is admitted. */
export type TrafficClass = 'operator' | 'machine' | 'machine-poll';

/** Paths only machines (their firmware, installers and agents) use. */
const MACHINE_PREFIXES = ['/api/v1/agent/', '/api/v1/discovery', '/api/v1/content/', '/boot/', '/install/', '/os/'];

/**
 * Traffic class of a request from its method, path and Authorization header:
 * machine paths, and any request presenting a node token (`cbn_...`, e.g. a
 * join agent's run-list check), are machine traffic; of those, the ones the
 * machine repeats by itself are polls.
 */
export function trafficClass(method: string, path: string, authorization: string | undefined): TrafficClass {
  const nodeToken = typeof authorization === 'string' && /^Bearer\s+cbn_/i.test(authorization);
  if (!nodeToken && !MACHINE_PREFIXES.some((p) => path.startsWith(p))) return 'operator';
  const m = method.toLowerCase();
  if (m === 'get' && (path === '/api/v1/agent/next' || /^\/api\/v1\/nodes\/[^/]+\/runlist$/.test(path))) return 'machine-poll';
  if (m === 'post' && path === '/api/v1/discovery') return 'machine-poll';
  return 'machine';
}

/** Gate settings. */
export interface AdmissionOptions {
  /** Queued machine requests beyond which polls are refused with 503 (0: no queue, admit at once). */
  maxQueue: number;
  /** Target length of an event-loop turn, ms (the batch shrinks when turns are longer). */
  turnMs: number;
  /** Run `fn` on the next event-loop turn (setImmediate in production). */
  defer: (fn: () => void) => void;
  /** Monotonic milliseconds (performance.now in production). */
  now: () => number;
}

/** Largest batch of machine requests started in one turn. */
const MAX_BATCH = 32;

/** Counters of the gate (health, benchmarks). */
export interface AdmissionStats {
  admitted: number;
  queued: number;
  refused: number;
  waiting: number;
  maxWaiting: number;
}

/** FIFO admission of machine requests, a bounded batch per event-loop turn. */
export class AdmissionGate {
  private readonly waiting: Array<() => void> = [];
  private draining = false;
  private batch = 1;
  private lastTurnAt = 0;
  private readonly counters = { admitted: 0, queued: 0, refused: 0, maxWaiting: 0 };

  constructor(private readonly o: AdmissionOptions) {}

  /**
   * Admit a request of class `c`: resolves when it may start, or returns
   * 'refused' (a poll while the queue is full). Operator requests and an idle
   * gate admit at once.
   */
  enter(c: TrafficClass): Promise<void> | 'refused' | 'now' {
    if (c === 'operator' || this.o.maxQueue === 0) return 'now';
    if (this.waiting.length === 0 && !this.draining) {
      // Idle: start now, and hold the gate for one turn so a burst queues behind it.
      this.counters.admitted++;
      this.hold();
      return 'now';
    }
    if (c === 'machine-poll' && this.waiting.length >= this.o.maxQueue) {
      this.counters.refused++;
      return 'refused';
    }
    this.counters.queued++;
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      if (this.waiting.length > this.counters.maxWaiting) this.counters.maxWaiting = this.waiting.length;
    });
  }

  private hold(): void {
    this.draining = true;
    this.lastTurnAt = this.o.now();
    this.o.defer(() => this.next());
  }

  private next(): void {
    if (this.waiting.length === 0) {
      this.draining = false;
      this.batch = 1;
      return;
    }
    // How long the loop took since the last batch: everything it did in between, the batch included.
    const turn = this.o.now() - this.lastTurnAt;
    if (turn > this.o.turnMs) this.batch = Math.max(1, this.batch >> 1);
    else if (turn < this.o.turnMs / 2) this.batch = Math.min(MAX_BATCH, this.batch + 1);
    for (let i = 0; i < this.batch; i++) {
      const resolve = this.waiting.shift();
      if (!resolve) break;
      this.counters.admitted++;
      resolve();
    }
    this.hold();
  }

  /** Current counters. */
  stats(): AdmissionStats {
    return { ...this.counters, waiting: this.waiting.length };
  }
}

/** Put `gate` in front of every request of `server` (hapi onRequest, before routing and auth). */
export function registerAdmission(server: Server, gate: AdmissionGate, o: { retryAfterSeconds: number; log: Logger }): void {
  let lastRefusalLog = 0;
  server.ext('onRequest', async (req: Request, h: ResponseToolkit) => {
    const auth = req.headers.authorization;
    const r = gate.enter(trafficClass(req.method, req.path, typeof auth === 'string' ? auth : undefined));
    if (r === 'now') return h.continue;
    if (r === 'refused') {
      const now = Date.now();
      if (now - lastRefusalLog > 10_000) {
        lastRefusalLog = now;
        o.log.warn('machine requests refused while the appliance is busy (503, Retry-After)', { ...gate.stats() });
      }
      return h
        .response({ statusCode: 503, error: 'Service Unavailable', code: 'busy', message: `appliance busy; retry in ${o.retryAfterSeconds} s` })
        .code(503)
        .header('retry-after', String(o.retryAfterSeconds))
        .takeover();
    }
    await r;
    return h.continue;
  });
}
