/**
 * CLI verbs for BMC power control over the REST API:
 *   crowbar power NODE on|off|cycle|reset|soft|status|identify
 *   crowbar bootdev NODE pxe|disk|bios [--persistent] [--efi|--legacy]
 *   crowbar bmc NODE [--address A] [--user U] [--driver D] [--password-stdin]
 * The BMC password is read from stdin, never taken from argv.
 */
import { readFileSync } from 'node:fs';
import { apiCall, parseGlobalArgs, resolveClient } from './client.js';

/** Usage lines of the power verbs. */
export const POWER_USAGE = `  power NODE ACTION       on|off|cycle|reset|soft|status|identify (desired state, waits)
  bootdev NODE DEVICE     pxe|disk|bios [--persistent] [--efi|--legacy]
  bmc NODE [opts]         --address HOST[:PORT] --user U --driver ipmi|ipmitool|manual --password-stdin
  (API: --url URL or $CROWBAR_URL; token: --token, --token-file FILE, $CROWBAR_TOKEN or --data-dir DIR)
`;

const enc = encodeURIComponent;

/** Run a power verb; returns the exit status. */
export async function powerVerb(verb: 'power' | 'bootdev' | 'bmc', argv: string[], out: (s: string) => void, readStdin: () => string = () => readFileSync(0, 'utf8')): Promise<number> {
  const g = parseGlobalArgs(argv);
  const target = resolveClient(g);
  const rest = g.rest;
  const [node, ...opts] = rest;
  if (!node) {
    out(`crowbar ${verb}: NODE missing\n`);
    return 2;
  }
  let res: unknown;
  if (verb === 'power') {
    if (opts.length !== 1) {
      out('crowbar power: one ACTION expected\n');
      return 2;
    }
    res = await apiCall(target, 'POST', `/api/v1/nodes/${enc(node)}/power`, { action: opts[0] });
  } else if (verb === 'bootdev') {
    const [device, ...flags] = opts;
    const body: Record<string, unknown> = { device };
    for (const f of flags) {
      if (f === '--persistent') body.persistent = true;
      else if (f === '--efi') body.efi = true;
      else if (f === '--legacy') body.efi = false;
      else {
        out(`crowbar bootdev: unknown option ${f}\n`);
        return 2;
      }
    }
    res = await apiCall(target, 'POST', `/api/v1/nodes/${enc(node)}/bootdev`, body);
  } else {
    const body: Record<string, unknown> = {};
    for (let i = 0; i < opts.length; i++) {
      const o = opts[i];
      if (o === '--address' || o === '--user' || o === '--driver') body[o.slice(2)] = opts[++i];
      else if (o === '--password-stdin') body.password = readStdin().replace(/\r?\n$/, '');
      else {
        out(`crowbar bmc: unknown option ${o}\n`);
        return 2;
      }
    }
    res = await apiCall(target, 'PUT', `/api/v1/nodes/${enc(node)}/bmc`, body);
  }
  out(JSON.stringify(res, null, 2) + '\n');
  const reached = (res as { reached?: boolean | null }).reached;
  return reached === false ? 3 : 0;
}
