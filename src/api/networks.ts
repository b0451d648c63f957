/**
 * REST routes of the network barclamp: networks in force, allocations per
 * network (allocate with an optional suggested address, release) and a
 * node's resolved conduits and interface plan.
 */
import type { Server } from '@hapi/hapi';
import { CrowbarError } from '../lib/errors.js';
import type { NetworkService } from '../services/network.js';
import type { NodeRepo } from '../store/nodes.js';
import { requireRole } from './auth.js';
import { bodyObject, onlyKeys, optString, reqString } from './validate.js';

/** Register the routes. */
export function registerNetworkRoutes(server: Server, network: NetworkService, nodes: NodeRepo): void {
  const nodeOf = (n: string) => {
    const node = nodes.getByName(n) ?? (/^\d+$/.test(n) ? nodes.get(Number(n)) : undefined);
    if (!node) throw new CrowbarError('not_found', `node ${n} not found`);
    return node;
  };
  server.route([
    { method: 'GET', path: '/api/v1/networks', handler: () => ({ networks: network.networks(), mode: network.attributes().mode }) },
    { method: 'GET', path: '/api/v1/networks/{net}', handler: (req) => ({ name: req.params.net, ...network.network(String(req.params.net)), allocations: network.allocationsOf(String(req.params.net)) }) },
    { method: 'GET', path: '/api/v1/networks/{net}/allocations', handler: (req) => ({ allocations: network.allocationsOf(String(req.params.net)) }) },
    {
      method: 'POST',
      path: '/api/v1/networks/{net}/allocations',
      options: { payload: { maxBytes: 4096 } },
      handler: (req, h) => {
        requireRole(req, 'operator');
        const body = bodyObject(req.payload);
        onlyKeys(body, ['node', 'suggested']);
        const a = network.allocate(String(req.params.net), reqString(body, 'node', 253), optString(body, 'suggested', 15));
        return h.response({ ...a, node: body.node }).code(200);
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/networks/{net}/allocations/{node}',
      handler: (req) => {
        requireRole(req, 'operator');
        network.network(String(req.params.net));
        return { released: network.release(String(req.params.node), String(req.params.net)) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/nodes/{name}/network',
      handler: (req) => {
        const node = nodeOf(String(req.params.name));
        return { node: node.name, addresses: network.addressesOf(node), ...network.planFor(node) };
      },
    },
  ]);
}
