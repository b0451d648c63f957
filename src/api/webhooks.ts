/** Admin routes for webhooks and their delivery log (/api/v1/webhooks). */
import { randomBytes } from 'node:crypto';
import type { Server } from '@hapi/hapi';
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import type { WebhookDispatcher } from '../services/webhooks.js';
import type { WebhookRepo } from '../store/webhooks.js';
import { requireRole } from './auth.js';
import { bodyObject, onlyKeys, optString } from './validate.js';

const ADMIN = { role: 'admin' };
const PATTERN = /^(\*|[a-z0-9_-]+(\.[a-z0-9_-]+)*(\.\*)?)$/;

function checkUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new CrowbarError('bad_request', `body.url: not a URL: ${JSON.stringify(u.slice(0, 80))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CrowbarError('bad_request', 'body.url: must be http or https');
  return url.toString();
}

function checkEvents(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 32 || !v.every((p) => typeof p === 'string' && p.length <= 64 && PATTERN.test(p)))
    throw new CrowbarError('bad_request', 'body.events: 1-32 event patterns like "*", "node.*", "node.transition", "proposal.*"');
  return v as string[];
}

function hookId(v: unknown): number {
  const id = Number(v);
  if (!Number.isInteger(id) || id <= 0) throw new CrowbarError('not_found', `webhook ${String(v)} not found`);
  return id;
}

/** Register webhook routes. */
export function registerWebhookRoutes(server: Server, repo: WebhookRepo, dispatcher: WebhookDispatcher, clock: Clock): void {
  const must = (id: number) => {
    const h = repo.get(id);
    if (!h) throw new CrowbarError('not_found', `webhook ${id} not found`);
    return h;
  };
  server.route([
    {
      method: 'GET',
      path: '/api/v1/webhooks',
      options: { description: 'List webhooks (secrets are never listed)', app: ADMIN },
      handler: (req) => {
        requireRole(req, 'admin');
        return { webhooks: repo.list() };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/webhooks',
      options: { description: 'Create a webhook {url, events?, description?, secret?}; returns the signing secret once', app: ADMIN, payload: { maxBytes: 16 * 1024 } },
      handler: (req, h) => {
        const p = requireRole(req, 'admin');
        const b = bodyObject(req.payload);
        onlyKeys(b, ['url', 'events', 'description', 'secret']);
        const url = checkUrl(optString(b, 'url', 2048) ?? '');
        const events = b.events === undefined ? ['*'] : checkEvents(b.events);
        const secret = optString(b, 'secret', 256) ?? randomBytes(32).toString('base64url');
        if (secret.length < 16) throw new CrowbarError('bad_request', 'body.secret: at least 16 characters');
        const hook = repo.create({ url, secret, events, description: optString(b, 'description', 256) ?? '', created_by: p.name }, clock.now());
        return h.response({ ...hook, secret }).code(201).header('cache-control', 'no-store');
      },
    },
    {
      method: 'GET',
      path: '/api/v1/webhooks/{id}',
      options: { description: 'One webhook', app: ADMIN },
      handler: (req) => {
        requireRole(req, 'admin');
        return must(hookId(req.params.id));
      },
    },
    {
      method: 'PATCH',
      path: '/api/v1/webhooks/{id}',
      options: { description: 'Change url, events, enabled, description; rotate_secret: true returns a new secret', app: ADMIN, payload: { maxBytes: 16 * 1024 } },
      handler: (req) => {
        requireRole(req, 'admin');
        const id = hookId(req.params.id);
        must(id);
        const b = bodyObject(req.payload);
        onlyKeys(b, ['url', 'events', 'enabled', 'description', 'rotate_secret']);
        if (b.enabled !== undefined && typeof b.enabled !== 'boolean') throw new CrowbarError('bad_request', 'body.enabled: must be true or false');
        const url = b.url === undefined ? undefined : checkUrl(optString(b, 'url', 2048) ?? '');
        const secret = b.rotate_secret === true ? randomBytes(32).toString('base64url') : undefined;
        repo.update(id, { url, events: b.events === undefined ? undefined : checkEvents(b.events), enabled: b.enabled as boolean | undefined, description: optString(b, 'description', 256), secret });
        return { ...must(id), ...(secret ? { secret } : {}) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/webhooks/{id}',
      options: { description: 'Delete a webhook and its delivery log', app: ADMIN },
      handler: (req, h) => {
        requireRole(req, 'admin');
        if (!repo.remove(hookId(req.params.id))) throw new CrowbarError('not_found', `webhook ${String(req.params.id)} not found`);
        return h.response().code(204);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/webhooks/{id}/deliveries',
      options: { description: 'Delivery log of a webhook, newest first (?limit=)', app: ADMIN },
      handler: (req) => {
        requireRole(req, 'admin');
        const id = hookId(req.params.id);
        must(id);
        const limit = Math.min(1000, Math.max(1, Number(req.query.limit ?? 100) || 100));
        return { deliveries: repo.deliveries(id, limit).map((d) => ({ ...d, payload: JSON.parse(d.payload) as unknown })) };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/webhooks/{id}/ping',
      options: { description: 'Queue a ping delivery to test a webhook', app: ADMIN },
      handler: (req, h) => {
        requireRole(req, 'admin');
        const id = hookId(req.params.id);
        must(id);
        return h.response({ delivery: dispatcher.ping(id) }).code(202);
      },
    },
    {
      method: 'POST',
      path: '/api/v1/webhooks/{id}/deliveries/{delivery}/retry',
      options: { description: 'Queue a delivery again', app: ADMIN },
      handler: (req, h) => {
        requireRole(req, 'admin');
        const id = hookId(req.params.id);
        const d = repo.delivery(Number(req.params.delivery));
        if (!d || d.webhook_id !== id) throw new CrowbarError('not_found', `delivery ${String(req.params.delivery)} not found`);
        repo.retry(d.id, clock.now());
        dispatcher.kick();
        return h.response({ delivery: d.id }).code(202);
      },
    },
  ]);
}
