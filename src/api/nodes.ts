/** REST routes for nodes: list, get, events, transition. */
import type { Server } from '@hapi/hapi';
import type { NodeService } from '../services/nodes.js';
import { nodeJson, type NodeRepo } from '../store/nodes.js';
import { requireRole, principalOf } from './auth.js';
import { bodyObject, onlyKeys, optString, reqString } from './validate.js';
import type { Node } from '../model/node.js';
import { CrowbarError } from '../lib/errors.js';

/** The public view of a node (no secrets). */
export function nodeView(n: Node): Record<string, unknown> {
  return { ...n, inventory: n.inventory };
}

/** Register node routes under /api/v1. */
export function registerNodeRoutes(server: Server, nodes: NodeService, repo: NodeRepo, domain: string): void {
  server.route([
    {
      method: 'GET',
      path: '/api/v1/nodes',
      // Built as text: stored inventories are spliced in without a parse/stringify round trip (src/store/nodes.ts).
      handler: (_req, h) => h.response(`{"nodes":[${nodes.list().map(nodeJson).join(',')}]}`).type('application/json'),
    },
    {
      method: 'POST',
      path: '/api/v1/nodes',
      options: { payload: { maxBytes: 64 * 1024 } },
      handler: (req, h) => {
        const p = requireRole(req, 'operator');
        const body = bodyObject(req.payload);
        onlyKeys(body, ['macs', 'name']);
        const macs = body.macs;
        if (!Array.isArray(macs) || macs.length === 0 || macs.length > 64 || !macs.every((m) => typeof m === 'string'))
          throw new CrowbarError('bad_request', 'body.macs: required list of 1-64 MAC addresses');
        const name = optString(body, 'name', 253);
        if (name !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(name))
          throw new CrowbarError('bad_request', `body.name: not a DNS name: ${JSON.stringify(name)}`);
        const n = nodes.create(macs as string[], { domain, name, cause: `api:${p.name}` });
        return h.response(nodeView(n)).code(201);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/nodes/{name}',
      handler: (req) => nodeView(nodes.get(String(req.params.name))),
    },
    {
      method: 'GET',
      path: '/api/v1/nodes/{name}/events',
      handler: (req) => {
        const n = nodes.get(String(req.params.name));
        return { events: repo.events(n.id, 500) };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/nodes/{name}/transition',
      options: { payload: { maxBytes: 16 * 1024 } },
      handler: async (req) => {
        const p = requireRole(req, 'operator');
        const body = bodyObject(req.payload);
        onlyKeys(body, ['to', 'reason']);
        const to = reqString(body, 'to', 64);
        const reason = optString(body, 'reason', 2048) ?? null;
        const r = await nodes.transition(String(req.params.name), to, `api:${p.name}`, reason);
        return { node: nodeView(r.node), from: r.from, effects: r.effects };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/whoami',
      handler: (req) => principalOf(req),
    },
  ]);
}
