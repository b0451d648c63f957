/** Read-only views of IP allocations: GET /api/v1/allocations and per node. */
import type { Server } from '@hapi/hapi';
import type { NodeService } from '../services/nodes.js';
import type { AllocationRepo } from '../store/allocations.js';

/** Register allocation views. */
export function registerAllocationRoutes(server: Server, allocations: AllocationRepo, nodes: NodeService): void {
  server.route([
    {
      method: 'GET',
      path: '/api/v1/allocations',
      options: { description: 'IP allocations of every network (?network=NAME) with node names' },
      handler: (req) => {
        const names = new Map(nodes.list().map((n) => [n.id, n.name]));
        const net = typeof req.query.network === 'string' && req.query.network ? req.query.network : undefined;
        return { allocations: allocations.list(net).map((a) => ({ ...a, node: names.get(a.node_id) ?? null })) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/nodes/{name}/allocations',
      options: { description: "A node's address on each network" },
      handler: (req) => {
        const n = nodes.get(String(req.params.name));
        return { allocations: allocations.forNode(n.id).map((a) => ({ ...a, node: n.name })) };
      },
    },
  ]);
}
