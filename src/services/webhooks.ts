/**
 * Webhook dispatcher. Every stream event (node transitions, proposal status
 * changes, any other bus event) is matched against enabled webhooks; a
 * delivery row is committed first, then POSTed with an HMAC-SHA256 signature
 * (src/lib/signature.ts). Failures (network error, timeout, non-2xx) are
 * retried with exponential backoff up to `maxAttempts`; every attempt is
 * recorded in the delivery log. Pending deliveries resume after a restart.
 */
import type { Clock } from '../lib/clock.js';
import { errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { SIGNATURE_HEADER, signPayload } from '../lib/signature.js';
import type { Delivery, WebhookRepo } from '../store/webhooks.js';
import type { StreamEvent } from './feed.js';

/** Sends one HTTP POST; resolves with the status code, rejects on network errors. */
export type WebhookPoster = (url: string, body: string, headers: Record<string, string>, timeoutMs: number) => Promise<number>;

/** Retry policy. */
export interface WebhookPolicy {
  maxAttempts: number;
  /** First retry delay; doubles each attempt. */
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  /** Deliveries in flight at once. */
  concurrency: number;
}

/** Default: 8 attempts over about 10 minutes (5 s, 10 s, ... capped at 5 min). */
export const DEFAULT_WEBHOOK_POLICY: WebhookPolicy = { maxAttempts: 8, baseDelayMs: 5000, maxDelayMs: 300_000, timeoutMs: 10_000, concurrency: 4 };

/** True when an event type matches a subscription pattern (`*`, `node.*`, exact). */
export function eventMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Delay before attempt `attempt + 1` after `attempt` failures. */
export function backoffMs(attempt: number, p: WebhookPolicy): number {
  return Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

/** The default poster: fetch with a timeout, no redirects followed. */
export const fetchPoster: WebhookPoster = async (url, body, headers, timeoutMs) => {
  const r = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  await r.arrayBuffer().catch(() => undefined);
  return r.status;
};

/** Queues, signs, sends and retries webhook deliveries. */
export class WebhookDispatcher {
  private readonly inflight = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly repo: WebhookRepo,
    private readonly post: WebhookPoster,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly policy: WebhookPolicy = DEFAULT_WEBHOOK_POLICY,
  ) {}

  /** Start sending (resumes deliveries left pending by a previous run). */
  start(): void {
    this.running = true;
    this.kick();
  }

  /** Stop scheduling; in-flight attempts finish on their own. */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Queue deliveries of `e` to every matching enabled webhook. */
  onEvent(e: StreamEvent): void {
    try {
      const hooks = this.repo.active().filter((h) => h.events.some((p) => eventMatches(p, e.type)));
      if (hooks.length === 0) return;
      const body = JSON.stringify({ type: e.type, id: e.id, at: new Date(e.at).toISOString(), data: e.data });
      this.repo.enqueue(
        hooks.map((h) => h.id),
        e.type,
        e.id === null ? null : String(e.id),
        body,
        this.clock.now(),
      );
      this.kick();
    } catch (err) {
      this.log.error('webhook enqueue failed', { type: e.type, error: errorMessage(err) });
    }
  }

  /** Send a test ping to one webhook (queued like any event). */
  ping(hookId: number): number {
    const body = JSON.stringify({ type: 'ping', id: null, at: new Date(this.clock.now()).toISOString(), data: {} });
    const [id] = this.repo.enqueue([hookId], 'ping', null, body, this.clock.now());
    this.kick();
    return id;
  }

  /** Resolves when nothing is in flight or due now (tests). */
  idle(): Promise<void> {
    if (this.inflight.size === 0 && this.repo.due(this.clock.now(), 1).length === 0) return Promise.resolve();
    return new Promise((res) => this.idleWaiters.push(res));
  }

  /** Look for due deliveries and start as many as the concurrency allows. */
  kick(): void {
    if (!this.running) return;
    const free = this.policy.concurrency - this.inflight.size;
    if (free > 0) {
      const due = this.repo.due(this.clock.now(), free + this.inflight.size).filter((d) => !this.inflight.has(d.id)).slice(0, free);
      for (const d of due) void this.attempt(d);
    }
    this.schedule();
    if (this.inflight.size === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) return;
    const next = this.repo.nextDue();
    if (next === null) return;
    const delay = Math.max(10, Math.min(next - this.clock.now(), 60_000));
    this.timer = setTimeout(() => this.kick(), delay);
    this.timer.unref();
  }

  private async attempt(d: Delivery): Promise<void> {
    this.inflight.add(d.id);
    let code: number | null = null;
    let error: string | null = null;
    try {
      let hook;
      try {
        hook = this.repo.withSecret(d.webhook_id);
      } catch (e) {
        // The secret does not open (wrong key file, tampered row): this delivery cannot be signed, ever.
        const now = this.clock.now();
        this.repo.recordAttempt(d.id, { status: 'failed', code: null, error: errorMessage(e), nextAt: now, now });
        this.log.error('webhook secret unusable; delivery failed', { webhook: d.webhook_id, delivery: d.id, error: errorMessage(e) });
        return;
      }
      if (!hook) return;
      const t = Math.floor(this.clock.now() / 1000);
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'crowbar-webhooks/1',
        'x-crowbar-event': d.event_type,
        'x-crowbar-delivery': String(d.id),
        [SIGNATURE_HEADER]: signPayload(hook.secret, d.payload, t),
      };
      try {
        code = await this.post(hook.url, d.payload, headers, this.policy.timeoutMs);
        if (code < 200 || code > 299) error = `HTTP ${code}`;
      } catch (e) {
        error = errorMessage(e).slice(0, 500);
      }
      const now = this.clock.now();
      const attempts = d.attempts + 1;
      if (error === null) {
        this.repo.recordAttempt(d.id, { status: 'delivered', code, error: null, nextAt: now, now });
      } else if (attempts >= this.policy.maxAttempts) {
        this.repo.recordAttempt(d.id, { status: 'failed', code, error, nextAt: now, now });
        this.log.warn('webhook delivery failed for good', { webhook: d.webhook_id, delivery: d.id, attempts, error });
      } else {
        this.repo.recordAttempt(d.id, { status: 'pending', code, error, nextAt: now + backoffMs(attempts, this.policy), now });
        this.log.info('webhook delivery will be retried', { webhook: d.webhook_id, delivery: d.id, attempts, error });
      }
    } catch (e) {
      this.log.error('webhook attempt bookkeeping failed', { delivery: d.id, error: errorMessage(e) });
    } finally {
      this.inflight.delete(d.id);
      this.kick();
    }
  }
}
