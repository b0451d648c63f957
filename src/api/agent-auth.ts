/**
 * The `agent` auth strategy: a node's agent presents its per-node token
 * (`Authorization: Bearer cbn_...`, received at registration). Routes that
 * use it see the node as `request.auth.credentials.node`. `node-agent` is the
 * same check for routes that also accept API tokens (run lists, content).
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
  // For routes both operators and node agents use (`{strategies: ['node-agent', 'token']}`): a
  // node token (cbn_...) is checked here; anything else is "missing" for this strategy, so hapi
  // goes on to the API token / session strategy.
  server.auth.scheme('crowbar-node-agent', () => ({
    authenticate: (request: Request, h: ResponseToolkit) => {
      const header = request.headers.authorization;
      const m = typeof header === 'string' ? /^Bearer\s+(cbn_\S+)$/i.exec(header) : null;
      if (!m) throw Object.assign(new CrowbarError('unauthorized', 'no node token'), { isMissing: true, output: { headers: {} } });
      const node = discovery.authenticate(m[1]);
      return h.authenticated({ credentials: { node } as never });
    },
  }));
  server.auth.strategy('node-agent', 'crowbar-node-agent');
}

/** hapi auth setting for routes that accept a node's agent token or an API token/session. */
export const NODE_AGENT_OR_API = { strategies: ['node-agent', 'token'] };

/** The node of a request authenticated with the `agent` strategy. */
export function agentNode(request: Request): Node {
  const n = (request.auth.credentials as { node?: Node } | null)?.node;
  if (!n) throw new CrowbarError('unauthorized', 'not authenticated as a node');
  return n;
}
