/** REST routes for nodes: list, get, events, transition. */
import type { Server } from '@hapi/hapi';
import type { NodeService } from '../services/nodes.js';
import type { NodeRepo } from '../store/nodes.js';
import { requireRole, principalOf } from './auth.js';
import { bodyObject, onlyKeys, optString, reqString } from './validate.js';
import type { Node } from '../model/node.js';

/** The public view of a node (no secrets). */
export function nodeView(n: Node): Record<string, unknown> {
  return { ...n };
}

/** Register node routes under /api/v1. */
export function registerNodeRoutes(server: Server, nodes: NodeService, repo: NodeRepo): void {
  server.route([
    {
      method: 'GET',
      path: '/api/v1/nodes',
      handler: () => ({ nodes: nodes.list().map(nodeView) }),
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
