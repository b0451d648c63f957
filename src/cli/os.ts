/**
 * CLI verbs for OS media over the REST API:
 *   crowbar os list
 *   crowbar os import PATH     an ISO or a directory on the appliance (absolute path; admin)
 *   crowbar os remove NAME     (admin)
 *   crowbar os choose NODE OS|default   (operator)
 */
import { resolve } from 'node:path';
import { apiCall, parseGlobalArgs, resolveClient } from './client.js';
import { formatTable } from './table.js';

/** Usage lines of the os verbs. */
export const OS_USAGE = `  os list                 registered OS media (installer trees, root images)
  os import ISO|DIR       import an installer ISO or tree on the appliance (admin)
  os remove NAME          unregister a medium and delete its tree (admin)
  os choose NODE OS|default   the OS a node installs next (name or prefix; default = provisioner's)
`;

/** Run an os verb; returns the exit status. */
export async function osVerb(argv: string[], out: (s: string) => void): Promise<number> {
  const g = parseGlobalArgs(argv);
  const [verb, arg, ...extra] = g.rest;
  const target = resolveClient(g);
  if (verb === 'list' && arg === undefined) {
    const r = (await apiCall(target, 'GET', '/api/v1/os')) as { os: Array<{ name: string; family: string; version: string; arch: string; method: string; url: string }> };
    out(formatTable(['NAME', 'FAMILY', 'VERSION', 'ARCH', 'METHOD', 'URL'], r.os.map((m) => [m.name, m.family, m.version, m.arch, m.method, m.url])));
    return 0;
  }
  if (verb === 'import' && arg !== undefined && extra.length === 0) {
    const m = (await apiCall(target, 'POST', '/api/v1/os', { path: resolve(arg) })) as { name: string; method: string; url: string };
    out(`imported ${m.name} (${m.method}) at ${m.url}\n`);
    return 0;
  }
  if (verb === 'remove' && arg !== undefined && extra.length === 0) {
    await apiCall(target, 'DELETE', `/api/v1/os/${encodeURIComponent(arg)}`);
    out(`removed ${arg}\n`);
    return 0;
  }
  if (verb === 'choose' && arg !== undefined && extra.length === 1) {
    const r = (await apiCall(target, 'PUT', `/api/v1/nodes/${encodeURIComponent(arg)}/os`, { os: extra[0] === 'default' ? null : extra[0] })) as { node: string; os: string | null; medium: string | null; problem: string | null };
    out(`${r.node}: ${r.os ?? '(no OS)'} -> ${r.medium ?? r.problem ?? '?'}\n`);
    return 0;
  }
  out(`usage:\n${OS_USAGE}`);
  return 2;
}
