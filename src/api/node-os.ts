/**
 * A node's OS choice (operator):
 *   GET /api/v1/nodes/{name}/os   {chosen, default, medium, method} (medium/method null when none resolves)
 *   PUT /api/v1/nodes/{name}/os   {os: NAME|null}: a medium name or prefix (`debian-12`); null = the provisioner default
 * The choice applies at the node's next OS install (hardware-installed or reinstall).
 */
import type { Server } from '@hapi/hapi';
import type { Clock } from '../lib/clock.js';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { NodeService } from '../services/nodes.js';
import type { OsSelection } from '../services/os-selection.js';
import type { OsMediaRepo } from '../store/os-media.js';
import { requireRole } from './auth.js';
import { bodyObject, onlyKeys } from './validate.js';

/** Register the node OS choice routes. */
export function registerNodeOsRoutes(server: Server, d: { nodes: NodeService; repo: OsMediaRepo; selection: OsSelection; clock: Clock }): void {
  const view = (name: string) => {
    const node = d.nodes.get(name);
    let medium: string | null = null;
    let method: string | null = null;
    let problem: string | null = null;
    try {
      const m = d.selection.mediaFor(node);
      medium = m.name;
      method = m.method;
    } catch (e) {
      problem = errorMessage(e);
    }
    return { node: node.name, chosen: d.repo.choiceOf(node.id), os: d.selection.nameFor(node), medium, method, problem };
  };
  server.route([
    { method: 'GET', path: '/api/v1/nodes/{name}/os', options: { description: "A node's OS choice and the medium it resolves to" }, handler: (req) => view(String(req.params.name)) },
    {
      method: 'PUT',
      path: '/api/v1/nodes/{name}/os',
      options: { description: "Choose a node's OS {os: name or prefix | null for the provisioner default}", payload: { maxBytes: 4096 } },
      handler: (req) => {
        requireRole(req, 'operator');
        const node = d.nodes.get(String(req.params.name));
        const body = bodyObject(req.payload);
        onlyKeys(body, ['os']);
        const os = body.os;
        if (os !== null && (typeof os !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,62}$/.test(os))) throw new CrowbarError('bad_request', 'body.os: an OS name or prefix (crowbar os list), or null');
        if (os !== null && !d.repo.get(os) && !d.repo.list().some((m) => m.name.startsWith(os + '-'))) throw new CrowbarError('bad_request', `no imported OS is named ${os} or starts with ${os}- (crowbar os list)`);
        d.repo.setChoice(node.id, os, d.clock.now());
        return view(node.name);
      },
    },
  ]);
}
