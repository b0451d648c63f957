/**
 * Webhook subscriptions and their delivery log. A delivery row is written
 * (pending) before any attempt, so deliveries survive a restart; each attempt
 * updates the row (attempts, last status/error, next attempt time). Signing
 * secrets are stored sealed (AES-256-GCM, src/lib/secret-box.ts) and opened
 * only for the dispatcher; rows from before sealing are sealed on start.
 */
import { preparedCache, type Db, type Prepare } from './db.js';
import { isSealed, type SecretBox } from '../lib/secret-box.js';

/** GCM additional data of webhook secrets (binds them to their purpose and row). */
const aadOf = (id: number): string => `crowbar-webhook:${id}`;

/** A webhook as shown to admins (the secret is never listed). */
export interface Webhook {
  id: number;
  url: string;
  events: string[];
  enabled: boolean;
  description: string;
  created_by: string;
  created_at: number;
}

/** A webhook with its signing secret (for the dispatcher only). */
export interface WebhookWithSecret extends Webhook {
  secret: string;
}

/** Delivery status. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One delivery of one event to one webhook. */
export interface Delivery {
  id: number;
  webhook_id: number;
  event_type: string;
  event_id: string | null;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

interface HookRow {
  id: number;
  url: string;
  secret: string;
  events: string;
  enabled: number;
  description: string;
  created_by: string;
  created_at: number;
}

function hydrate(r: HookRow, secret: string): WebhookWithSecret {
  return { id: r.id, url: r.url, secret, events: JSON.parse(r.events) as string[], enabled: r.enabled === 1, description: r.description, created_by: r.created_by, created_at: r.created_at };
}

function pub(h: WebhookWithSecret): Webhook {
  const { secret: _secret, ...rest } = h;
  return rest;
}

/** Data access for webhooks and deliveries. */
export class WebhookRepo {
  private readonly sql: Prepare;
  private activeCache: Webhook[] | null = null;

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {
    this.sql = preparedCache(db);
    const legacy = db.prepare<[], { id: number; secret: string }>('SELECT id, secret FROM webhooks').all().filter((r) => !isSealed(r.secret));
    const seal = db.prepare('UPDATE webhooks SET secret = ? WHERE id = ?');
    db.transaction(() => {
      for (const r of legacy) seal.run(box.seal(aadOf(r.id), r.secret), r.id);
    })();
  }

  private open(r: HookRow): WebhookWithSecret {
    return hydrate(r, this.box.open(aadOf(r.id), r.secret, 'webhook secret'));
  }

  /** Create a webhook. */
  create(h: { url: string; secret: string; events: string[]; description: string; created_by: string }, now: number): Webhook {
    // The row id is part of the sealing, so insert with a placeholder and seal in the same transaction.
    const id = this.db.transaction(() => {
      const rowId = Number(
        this.sql("INSERT INTO webhooks (url, secret, events, description, created_by, created_at) VALUES (?, '', ?, ?, ?, ?)")
          .run(h.url, JSON.stringify(h.events), h.description, h.created_by, now).lastInsertRowid,
      );
      this.sql('UPDATE webhooks SET secret = ? WHERE id = ?').run(this.box.seal(aadOf(rowId), h.secret), rowId);
      return rowId;
    })();
    this.activeCache = null;
    return this.get(id)!;
  }

  /** Webhook by id (without secret). */
  get(id: number): Webhook | undefined {
    const r = this.sql<[number], HookRow>('SELECT * FROM webhooks WHERE id = ?').get(id);
    return r && pub(hydrate(r, ''));
  }

  /** All webhooks (without secrets). */
  list(): Webhook[] {
    return this.sql<[], HookRow>('SELECT * FROM webhooks ORDER BY id').all().map((r) => pub(hydrate(r, '')));
  }

  /**
   * Enabled webhooks (subscription matching; secrets are opened per delivery).
   * Asked for every event, so kept in memory; every change goes through this
   * repository (create, update, remove), which drops the copy.
   */
  active(): Webhook[] {
    this.activeCache ??= this.sql<[], HookRow>('SELECT * FROM webhooks WHERE enabled = 1 ORDER BY id').all().map((r) => pub(hydrate(r, '')));
    return this.activeCache;
  }

  /** Webhook with secret by id (dispatcher). */
  withSecret(id: number): WebhookWithSecret | undefined {
    const r = this.sql<[number], HookRow>('SELECT * FROM webhooks WHERE id = ?').get(id);
    return r && this.open(r);
  }

  /** Change fields of a webhook. */
  update(id: number, c: { url?: string; events?: string[]; enabled?: boolean; description?: string; secret?: string }): void {
    const cur = this.withSecret(id);
    if (!cur) return;
    this.activeCache = null;
    this.sql('UPDATE webhooks SET url = ?, events = ?, enabled = ?, description = ?, secret = ? WHERE id = ?')
      .run(c.url ?? cur.url, JSON.stringify(c.events ?? cur.events), (c.enabled ?? cur.enabled) ? 1 : 0, c.description ?? cur.description, this.box.seal(aadOf(id), c.secret ?? cur.secret), id);
  }

  /** Delete a webhook and its delivery log. */
  remove(id: number): boolean {
    this.activeCache = null;
    return this.sql('DELETE FROM webhooks WHERE id = ?').run(id).changes === 1;
  }

  /** Queue deliveries of one event to several webhooks in one transaction. */
  enqueue(hookIds: readonly number[], eventType: string, eventId: string | null, payload: string, now: number): number[] {
    const ins = this.sql(
      "INSERT INTO webhook_deliveries (webhook_id, event_type, event_id, payload, status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
    );
    return this.db.transaction(() => hookIds.map((h) => Number(ins.run(h, eventType, eventId, payload, now, now).lastInsertRowid)))();
  }

  /** Pending deliveries due at `now`, oldest first. */
  due(now: number, limit: number): Delivery[] {
    return this.sql<[number, number], Delivery>("SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?")
      .all(now, limit);
  }

  /** Earliest next attempt among pending deliveries, or null. */
  nextDue(): number | null {
    const r = this.sql("SELECT MIN(next_attempt_at) AS t FROM webhook_deliveries WHERE status = 'pending'").get() as { t: number | null };
    return r.t;
  }

  /** Record one attempt's outcome. */
  recordAttempt(id: number, o: { status: DeliveryStatus; code: number | null; error: string | null; nextAt: number; now: number }): void {
    this.sql(
        'UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, last_status_code = ?, last_error = ?, next_attempt_at = ?, delivered_at = CASE WHEN ? = \'delivered\' THEN ? ELSE delivered_at END WHERE id = ?',
      )
      .run(o.status, o.code, o.error, o.nextAt, o.status, o.now, id);
  }

  /** Delivery log of one webhook, newest first. */
  deliveries(hookId: number, limit = 100): Delivery[] {
    return this.sql<[number, number], Delivery>('SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?').all(hookId, limit);
  }

  /** One delivery by id. */
  delivery(id: number): Delivery | undefined {
    return this.sql<[number], Delivery>('SELECT * FROM webhook_deliveries WHERE id = ?').get(id);
  }

  /** Put a delivery back in the queue (manual redeliver). */
  retry(id: number, now: number): void {
    this.sql("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ? WHERE id = ?").run(now, id);
  }

  /** Drop finished deliveries older than `before` (log retention). */
  prune(before: number): number {
    return this.sql("DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_at < ?").run(before).changes;
  }
}
