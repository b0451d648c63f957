/**
 * REST routes for BMC power control: power actions, power info, BMC settings
 * (password write-only), next boot device, and the driver list.
 */
import type { Server } from '@hapi/hapi';
import { CrowbarError } from '../lib/errors.js';
import type { NodeService } from '../services/nodes.js';
import type { PowerService } from '../services/power/service.js';
import { POWER_API_ACTIONS, type PowerApiAction } from '../services/power/types.js';
import { requireRole } from './auth.js';
import { nodeView } from './nodes.js';
import { bodyObject, onlyKeys, optString, reqString } from './validate.js';

function optBool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new CrowbarError('bad_request', `body.${key}: must be true or false`);
  return v;
}

/** Register power routes under /api/v1. */
export function registerPowerRoutes(server: Server, nodes: NodeService, power: PowerService): void {
  server.route([
    {
      method: 'POST',
      path: '/api/v1/nodes/{name}/power',
      options: { payload: { maxBytes: 4 * 1024 } },
      handler: async (req) => {
        const body = bodyObject(req.payload);
        onlyKeys(body, ['action']);
        const action = reqString(body, 'action', 16);
        if (!(POWER_API_ACTIONS as readonly string[]).includes(action))
          throw new CrowbarError('bad_request', `body.action: must be one of ${POWER_API_ACTIONS.join(', ')}`);
        const p = requireRole(req, action === 'status' ? 'readonly' : 'operator');
        return power.power(nodes.get(String(req.params.name)), action as PowerApiAction, `api:${p.name}`);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/nodes/{name}/power',
      handler: (req) => power.info(nodes.get(String(req.params.name))),
    },
    {
      method: 'PUT',
      path: '/api/v1/nodes/{name}/bmc',
      options: { payload: { maxBytes: 4 * 1024 } },
      handler: (req) => {
        requireRole(req, 'operator');
        const body = bodyObject(req.payload);
        onlyKeys(body, ['address', 'user', 'password', 'driver']);
        const address = body.address === null ? null : optString(body, 'address', 260);
        const node = power.configureBmc(nodes.get(String(req.params.name)), {
          address,
          user: optString(body, 'user', 16),
          password: optString(body, 'password', 20),
          driver: optString(body, 'driver', 32),
        });
        return nodeView(node);
      },
    },
    {
      method: 'POST',
      path: '/api/v1/nodes/{name}/bootdev',
      options: { payload: { maxBytes: 4 * 1024 } },
      handler: async (req) => {
        const p = requireRole(req, 'operator');
        const body = bodyObject(req.payload);
        onlyKeys(body, ['device', 'persistent', 'efi']);
        const device = reqString(body, 'device', 8);
        if (device !== 'pxe' && device !== 'disk' && device !== 'bios') throw new CrowbarError('bad_request', 'body.device: must be pxe, disk or bios');
        const node = nodes.get(String(req.params.name));
        const efi = optBool(body, 'efi') ?? node.inventory.firmware === 'uefi';
        return power.setBootDevice(node, { device, persistent: optBool(body, 'persistent') ?? false, efi }, `api:${p.name}`);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/power/drivers',
      handler: () => ({
        drivers: power.drivers().map((d) => ({ name: d.name, description: d.description, can_control: d.canControl, settings: d.settings })),
      }),
    },
  ]);
}
