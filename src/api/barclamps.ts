/**
 * REST routes for barclamps, proposals, run lists and content:
 *   /api/v1/barclamps[/{name}]                         list, show, install (admin), uninstall (admin)
 *   /api/v1/barclamps/{bc}/proposals[/{name}]          list, create, show, edit, delete (operator)
 *   /api/v1/barclamps/{bc}/proposals/{name}/diff|commit|dequeue|status
 *   /api/v1/proposals                                  every proposal
 *   /api/v1/nodes/{name}/runlist[/status]              a node's run list; the agent's report (API token,
 *                                                      or that node's own agent token: crowbar-join)
 *   /api/v1/content/{sha256}                           scripts and cookbook archives by hash (API or agent token)
 *   /api/v1/barclamps-audit                            audit trail (admin)
 */
import type { Server } from '@hapi/hapi';
import { CrowbarError } from '../lib/errors.js';
import type { Barclamp } from '../barclamps/bundle.js';
import type { BarclampService } from '../services/barclamps.js';
import type { ProposalService } from '../services/proposals.js';
import type { BarclampRepo } from '../store/barclamps.js';
import type { Request } from '@hapi/hapi';
import { agentNode, NODE_AGENT_OR_API } from './agent-auth.js';
import { requireRole } from './auth.js';
import { bodyObject, onlyKeys, optString, reqString } from './validate.js';

/** Largest barclamp archive accepted over the API. */
export const MAX_ARCHIVE_BYTES = 32 * 1024 * 1024;

/** Routes the node agent uses too: its node token, or API tokens / sessions (default strategy). */
const API_OR_AGENT = NODE_AGENT_OR_API;

/**
 * Who calls a node route: an API principal with at least `role`, or the
 * agent of that very node (a node may read and report only its own run list).
 * Returns the actor for the audit trail.
 */
function nodeCaller(req: Request, nodeName: string, role: 'readonly' | 'operator'): string {
  if (req.auth.strategy === 'node-agent') {
    const n = agentNode(req);
    if (n.name !== nodeName) throw new CrowbarError('forbidden', `node ${n.name} may not use the run list of ${nodeName}`);
    return `agent:${n.name}`;
  }
  return `api:${requireRole(req, role).name}`;
}

/** Summary of a barclamp for lists. */
export function barclampSummary(bc: Barclamp, svc: BarclampService): Record<string, unknown> {
  const row = svc.row(bc.name);
  const m = bc.manifest;
  return {
    name: bc.name,
    display: m.barclamp.display,
    description: m.barclamp.description,
    version: m.barclamp.version,
    requires: m.barclamp.requires,
    order: m.crowbar.order,
    run_order: m.crowbar.run_order,
    proposal_schema_version: m.crowbar.proposal_schema_version,
    roles: Object.keys(m.roles),
    source: row?.source ?? 'shipped',
    sha256: row?.sha256 ?? bc.tree_sha256,
    installed_at: row?.installed_at ?? null,
  };
}

function name(v: unknown): string {
  return String(v);
}

/** Register the routes. */
export function registerBarclampRoutes(server: Server, barclamps: BarclampService, proposals: ProposalService, repo: BarclampRepo): void {
  const P = '/api/v1/barclamps/{bc}/proposals';
  server.route([
    { method: 'GET', path: '/api/v1/barclamps', handler: () => ({ barclamps: barclamps.list().map((b) => barclampSummary(b, barclamps)) }) },
    {
      method: 'GET',
      path: '/api/v1/barclamps/{bc}',
      handler: (req) => {
        const bc = barclamps.get(name(req.params.bc));
        return {
          ...barclampSummary(bc, barclamps),
          manifest: bc.manifest,
          template: bc.template,
          schema: bc.schema,
          migrations: bc.migrations.map((m) => ({ number: m.number, file: m.file, description: m.description })),
          role_implementations: Object.fromEntries(
            Object.entries(bc.roles).map(([r, impl]) => [r, { script: impl.script?.sha256 ?? null, chef: impl.chef ? { recipes: impl.chef.recipes, cookbooks: impl.chef.cookbooks.sha256 } : null }]),
          ),
          templates: bc.templates,
          dependents: barclamps.dependents(bc.name),
          proposals: proposals.list(bc.name).map((p) => ({ name: p.name, status: p.status })),
        };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/barclamps',
      options: { payload: { parse: false, output: 'data', maxBytes: MAX_ARCHIVE_BYTES, allow: ['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/octet-stream'] } },
      handler: (req, h) => {
        const p = requireRole(req, 'admin');
        const body = req.payload;
        if (!Buffer.isBuffer(body) || body.length === 0) throw new CrowbarError('bad_request', 'send the barclamp archive (tar or tar.gz) as the request body');
        const r = barclamps.install(body, `api:${p.name}`);
        return h.response(r).code(r.previous_version === null ? 201 : 200);
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/barclamps/{bc}',
      handler: (req) => {
        const p = requireRole(req, 'admin');
        return barclamps.uninstall(name(req.params.bc), `api:${p.name}`);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/barclamps-audit',
      handler: (req) => {
        requireRole(req, 'admin');
        const bc = typeof req.query.barclamp === 'string' ? req.query.barclamp : undefined;
        return { events: repo.auditLog(500, bc).map((a) => ({ ...a, detail: JSON.parse(a.detail) as unknown })) };
      },
    },
    { method: 'GET', path: '/api/v1/proposals', handler: () => ({ proposals: proposals.list().map(({ proposal: _p, applied: _a, ...rest }) => rest) }) },
    { method: 'GET', path: P, handler: (req) => ({ proposals: proposals.list(name(req.params.bc)).map(({ proposal: _p, applied: _a, ...rest }) => rest) }) },
    {
      method: 'POST',
      path: P,
      options: { payload: { maxBytes: 16 * 1024 } },
      handler: (req, h) => {
        const p = requireRole(req, 'operator');
        const body = bodyObject(req.payload ?? {});
        onlyKeys(body, ['name', 'description']);
        const v = proposals.create(name(req.params.bc), reqString(body, 'name', 64), `api:${p.name}`, optString(body, 'description', 1024));
        return h.response(v).code(201);
      },
    },
    { method: 'GET', path: `${P}/{name}`, handler: (req) => proposals.get(name(req.params.bc), name(req.params.name)) },
    {
      method: 'PUT',
      path: `${P}/{name}`,
      options: { payload: { maxBytes: 1024 * 1024 } },
      handler: (req) => {
        const p = requireRole(req, 'operator');
        return proposals.edit(name(req.params.bc), name(req.params.name), req.payload, `api:${p.name}`);
      },
    },
    {
      method: 'DELETE',
      path: `${P}/{name}`,
      handler: (req) => {
        const p = requireRole(req, 'operator');
        return proposals.delete(name(req.params.bc), name(req.params.name), `api:${p.name}`);
      },
    },
    { method: 'GET', path: `${P}/{name}/diff`, handler: (req) => proposals.diff(name(req.params.bc), name(req.params.name)) },
    { method: 'GET', path: `${P}/{name}/status`, handler: (req) => proposals.status(name(req.params.bc), name(req.params.name)) },
    {
      method: 'POST',
      path: `${P}/{name}/commit`,
      handler: (req) => {
        const p = requireRole(req, 'operator');
        return proposals.commit(name(req.params.bc), name(req.params.name), `api:${p.name}`);
      },
    },
    {
      method: 'POST',
      path: `${P}/{name}/dequeue`,
      handler: (req) => {
        const p = requireRole(req, 'operator');
        return proposals.dequeue(name(req.params.bc), name(req.params.name), `api:${p.name}`);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/nodes/{name}/runlist',
      options: { auth: API_OR_AGENT },
      handler: (req, h) => {
        nodeCaller(req, name(req.params.name), 'readonly');
        const rl = proposals.runList(name(req.params.name));
        const etag = `"${rl.revision}"`;
        if (req.headers['if-none-match'] === etag) return h.response().code(304).header('etag', etag);
        return h.response(rl).header('etag', etag);
      },
    },
    {
      method: 'POST',
      path: '/api/v1/nodes/{name}/runlist/status',
      options: { auth: API_OR_AGENT, payload: { maxBytes: 256 * 1024 } },
      handler: (req) => {
        const actor = nodeCaller(req, name(req.params.name), 'operator');
        const body = bodyObject(req.payload);
        onlyKeys(body, ['results']);
        if (!Array.isArray(body.results) || body.results.length > 1000) throw new CrowbarError('bad_request', 'body.results: required list (at most 1000)');
        const results = body.results.map((r: unknown, i: number) => {
          const o = bodyObject(r);
          onlyKeys(o, ['barclamp', 'proposal', 'role', 'status', 'message']);
          const status = reqString(o, 'status', 16);
          if (status !== 'ready' && status !== 'failed') throw new CrowbarError('bad_request', `body.results[${i}].status: must be ready or failed`);
          return { barclamp: reqString(o, 'barclamp', 64), proposal: reqString(o, 'proposal', 64), role: reqString(o, 'role', 64), status: status as 'ready' | 'failed', message: optString(o, 'message', 4096) };
        });
        return proposals.report(name(req.params.name), results, actor);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/content/{sha}',
      options: { auth: API_OR_AGENT },
      handler: (req, h) => {
        const sha = name(req.params.sha);
        if (!/^[0-9a-f]{64}$/.test(sha)) throw new CrowbarError('bad_request', 'content id must be a sha256 hex digest');
        const blob = barclamps.blob(sha);
        if (!blob) throw new CrowbarError('not_found', `no content ${sha}`);
        return h.response(blob.data).type(blob.mediaType).header('etag', `"${sha}"`).header('cache-control', 'public, max-age=31536000, immutable');
      },
    },
  ]);
}
