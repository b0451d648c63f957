/**
 * Minimal allocation route: `POST /api/v1/nodes/{name}/allocate` gives a node
 * its persistent admin-network address (idempotent; operator role), from
 * admin_network.host_range_start..end, never the appliance's own address.
 * Body: `{}` or `{"network": "admin"}` (other networks belong to the network
 * barclamp). The DNS zone follows at once.
 */
import type { Server } from '@hapi/hapi';
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import { parseCidr } from '../lib/ip.js';
import type { NodeService } from '../services/nodes.js';
import type { EventBus } from '../services/events.js';
import type { AllocationRepo } from '../store/allocations.js';
import { requireRole } from './auth.js';
import { bodyObject, onlyKeys, optString } from './validate.js';

/** Register the allocation route. */
export function registerAllocationRoutes(server: Server, config: Readonly<Config>, nodes: NodeService, allocations: AllocationRepo, bus: EventBus, clock: Clock): void {
  server.route({
    method: 'POST',
    path: '/api/v1/nodes/{name}/allocate',
    options: { payload: { maxBytes: 4096 } },
    handler: (req) => {
      requireRole(req, 'operator');
      const body = req.payload === null || req.payload === undefined ? {} : bodyObject(req.payload);
      onlyKeys(body, ['network']);
      const network = optString(body, 'network', 64) ?? 'admin';
      if (network !== 'admin') throw new CrowbarError('bad_request', `only the admin network is allocated here, not ${JSON.stringify(network)}`);
      const node = nodes.get(String(req.params.name));
      const net = config.admin_network;
      const a = allocations.allocate(
        'admin',
        node.id,
        { start: net.host_range_start, end: net.host_range_end },
        clock.now(),
        undefined,
        [parseCidr(net.address).address],
      );
      bus.publish({ type: 'node.allocated', at: clock.now(), data: { node: node.name, network: a.network, address: a.address } });
      return { node: node.name, network: a.network, address: a.address };
    },
  });
}
