/**
 * Discovery routes:
 *  - POST /api/v1/discovery (no auth, narrow: size cap, per-source rate limit,
 *    schema-checked body) -> {node, token, state, admin_address}
 *  - GET /api/v1/agent/next, POST /api/v1/agent/transition, POST /api/v1/agent/log,
 *    POST /api/v1/agent/join-token (image install: the installed system's token)
 *    (node token)
 *  - GET /api/v1/nodes/{name}/log (API token, readonly)
 *  - GET /boot/node/{mac}.ipxe (no auth, no secrets): the per-node iPXE script
 * (the discovery kernel/initrd are served by the boot-files service under
 * /boot/files/discovery/, from config.discovery.image_dir)
 */
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import { isMac } from '../lib/mac.js';
import { RateLimiter } from '../lib/rate.js';
import { parseRegistration } from '../model/registration.js';
import type { BootScriptService } from '../services/boot-scripts.js';
import type { DiscoveryService } from '../services/discovery.js';
import type { NodeService } from '../services/nodes.js';
import { agentNode, registerAgentAuth } from './agent-auth.js';
import { requireRole } from './auth.js';
import { bodyObject, onlyKeys, optString, reqString } from './validate.js';

/** Limits of the unauthenticated and agent endpoints. */
export interface DiscoveryRouteOptions {
  maxBodyBytes: number;
  ratePerMinute: number;
}

/** Register the discovery, agent and boot-script routes. */
export function registerDiscoveryRoutes(
  server: Server,
  deps: { discovery: DiscoveryService; bootScripts: BootScriptService; nodes: NodeService; clock: Clock },
  o: DiscoveryRouteOptions,
): void {
  const { discovery, bootScripts, nodes, clock } = deps;
  registerAgentAuth(server, discovery);
  // Per source address, checked before the body is even read.
  const perSource = new RateLimiter(o.ratePerMinute / 60, Math.max(1, Math.min(o.ratePerMinute, 20)));
  // Per node for the log endpoint.
  const perNode = new RateLimiter(10, 50);
  const limitSource = (request: Request, h: ResponseToolkit) => {
    if (!perSource.take(request.info.remoteAddress, clock.now())) throw new CrowbarError('rate_limited', 'too many registrations from this address; retry later');
    return h.continue;
  };

  server.route([
    {
      method: 'POST',
      path: '/api/v1/discovery',
      options: {
        auth: false,
        ext: { onPreAuth: { method: limitSource } },
        payload: { maxBytes: o.maxBodyBytes, parse: true, allow: 'application/json', output: 'data' },
      },
      handler: async (req, h) => {
        const reg = parseRegistration(req.payload);
        const r = await discovery.register(reg, req.info.remoteAddress);
        return h
          .response({ node: r.node.name, state: r.node.state, token: r.token, admin_address: r.admin_address, created: r.created })
          .code(r.created ? 201 : 200)
          .header('cache-control', 'no-store');
      },
    },
    {
      method: 'GET',
      path: '/api/v1/agent/next',
      options: { auth: 'agent' },
      handler: (req) => discovery.next(agentNode(req)),
    },
    {
      method: 'POST',
      path: '/api/v1/agent/transition',
      options: { auth: 'agent', payload: { maxBytes: 4096, allow: 'application/json' } },
      handler: async (req) => {
        const body = bodyObject(req.payload);
        onlyKeys(body, ['to', 'reason']);
        const to = reqString(body, 'to', 64);
        const reason = optString(body, 'reason', 1024) ?? null;
        const n = await discovery.agentTransition(agentNode(req), to, reason);
        return { node: n.name, state: n.state };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/agent/join-token',
      options: { auth: 'agent' },
      handler: (req, h) => h.response({ token: discovery.issueJoinToken(agentNode(req)) }).header('cache-control', 'no-store'),
    },
    {
      method: 'POST',
      path: '/api/v1/agent/log',
      options: { auth: 'agent', payload: { maxBytes: 64 * 1024, allow: ['text/plain', 'application/octet-stream'], parse: false, output: 'data' } },
      handler: (req) => {
        const node = agentNode(req);
        if (!perNode.take(String(node.id), clock.now())) throw new CrowbarError('rate_limited', 'too many log posts; slow down');
        const text = Buffer.isBuffer(req.payload) ? req.payload.toString('utf8') : String(req.payload ?? '');
        const source = typeof req.query.source === 'string' && /^[a-z0-9_-]{1,32}$/.test(req.query.source) ? req.query.source : 'agent';
        return { stored: discovery.appendLog(node, source, text) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/nodes/{name}/log',
      handler: (req) => {
        requireRole(req, 'readonly');
        const n = nodes.get(String(req.params.name));
        const limit = Math.min(10_000, Math.max(1, Number(req.query.limit ?? 1000) || 1000));
        return { node: n.name, lines: discovery.logTail(n, limit) };
      },
    },
    {
      method: 'GET',
      path: '/boot/node/{mac}.ipxe',
      options: { auth: false },
      handler: (req, h) => {
        const mac = String(req.params.mac);
        if (!isMac(mac)) throw new CrowbarError('not_found', `no boot script for ${JSON.stringify(mac)}: not a MAC address`);
        const r = bootScripts.scriptFor(mac);
        return h.response(r.script).type('text/plain; charset=utf-8').header('cache-control', 'no-store').header('x-crowbar-boot-group', r.group);
      },
    },
  ]);
}
