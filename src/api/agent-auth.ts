/**
 * The `agent` auth strategy: a node's agent presents its per-node token
 * (`Authorization: Bearer cbn_...`, received at registration). Routes that
 * use it see the node as `request.auth.credentials.node`.
 */
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';
import { CrowbarError } from '../lib/errors.js';
import type { Node } from '../model/node.js';
import type { DiscoveryService } from '../services/discovery.js';

/** Register the `agent` strategy (not the default). */
export function registerAgentAuth(server: Server, discovery: DiscoveryService): void {
  server.auth.scheme('crowbar-agent', () => ({
    authenticate: (request: Request, h: ResponseToolkit) => {
      const header = request.headers.authorization;
      const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!m) throw new CrowbarError('unauthorized', 'missing node token (send Authorization: Bearer <token>)');
      const node = discovery.authenticate(m[1]);
      return h.authenticated({ credentials: { node } as never });
    },
  }));
  server.auth.strategy('agent', 'crowbar-agent');
}

/** The node of a request authenticated with the `agent` strategy. */
export function agentNode(request: Request): Node {
  const n = (request.auth.credentials as { node?: Node } | null)?.node;
  if (!n) throw new CrowbarError('unauthorized', 'not authenticated as a node');
  return n;
}
