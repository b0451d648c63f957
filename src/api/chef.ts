/**
 * Chef role files for a node's own agent (auth `agent`: the node's
 * long-lived credential; a node may only read its own):
 *   GET /api/v1/nodes/{name}/chef/{barclamp}/{proposal}/{role}/{file}
 *   file: node.json | environment.json | solo.rb | cookbooks.tar.gz
 */
import type { Server } from '@hapi/hapi';
import { CrowbarError } from '../lib/errors.js';
import type { ChefRoleService } from '../services/chef-roles.js';
import { agentNode } from './agent-auth.js';

/** Register the Chef role routes (after the `agent` auth strategy). */
export function registerChefRoutes(server: Server, chef: ChefRoleService): void {
  server.route({
    method: 'GET',
    path: '/api/v1/nodes/{name}/chef/{barclamp}/{proposal}/{role}/{file}',
    options: { auth: 'agent', description: "Chef role file for the node's own agent: node.json, environment.json, solo.rb, cookbooks.tar.gz" },
    handler: (req, h) => {
      const node = agentNode(req);
      const p = req.params as Record<string, string>;
      if (p.name !== node.name) throw new CrowbarError('forbidden', `a node may only read its own Chef roles (authenticated as ${node.name})`);
      const f = chef.file(node.name, p.barclamp, p.proposal, p.role, p.file);
      return h.response(f.body).type(f.type).header('cache-control', 'no-store');
    },
  });
}
