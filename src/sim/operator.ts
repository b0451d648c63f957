/**
 * The operator's side of a simulation, through the REST API with the
 * operator token: put the BMC network on loopback addresses (a network
 * proposal whose `bmc` network is a 127.x subnet, so the appliance's power
 * service reaches the simulated BMCs after hardware-install), and allocate
 * discovered nodes (move them to hardware-installing), a few at a time.
 */
import { CrowbarError } from '../lib/errors.js';
import { intToIp, parseCidr } from '../lib/ip.js';
import type { SimHttp } from './http-client.js';

/** A JSON API call with the operator token. */
export type ApiCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** An ApiCall over SimHttp from `local`. */
export function apiCaller(http: SimHttp, apiUrl: string, token: string, timeoutMs: number, local = '127.0.0.1'): ApiCall {
  return async (method, path, body) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await http.send({ method, url: `${apiUrl}${path}`, local, headers, body: body === undefined ? undefined : JSON.stringify(body), timeoutMs });
    const text = r.body.toString('utf8');
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
}

function ok(r: { status: number; body: any }, what: string): any {
  if (r.status < 200 || r.status >= 300) throw new CrowbarError('service.failed', `${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

/**
 * Make the applied network proposal's `bmc` network `cidr` (e.g.
 * 127.64.0.0/16), host range from .10 to the end. Creates and commits the
 * crowbar and network `default` proposals when missing.
 */
export async function configureBmcNetwork(api: ApiCall, cidr: string): Promise<void> {
  const c = parseCidr(cidr);
  const start = intToIp(c.network + 10);
  const end = intToIp(c.broadcast - 1);
  for (const bc of ['crowbar', 'network']) {
    if ((await api('GET', `/api/v1/barclamps/${bc}/proposals/default`)).status === 404) ok(await api('POST', `/api/v1/barclamps/${bc}/proposals`, { name: 'default' }), `create ${bc} proposal`);
  }
  const crowbar = ok(await api('GET', '/api/v1/barclamps/crowbar/proposals/default'), 'crowbar proposal');
  if (crowbar.status !== 'applied') ok(await api('POST', '/api/v1/barclamps/crowbar/proposals/default/commit'), 'commit crowbar proposal');
  const view = ok(await api('GET', '/api/v1/barclamps/network/proposals/default'), 'network proposal');
  const doc = view.proposal;
  const bmc = doc.attributes.network.networks.bmc;
  bmc.subnet = intToIp(c.network);
  bmc.netmask = intToIp(c.mask);
  bmc.router = null;
  bmc.ranges = { host: { start, end } };
  ok(await api('PUT', '/api/v1/barclamps/network/proposals/default', doc), 'edit network proposal');
  const r = ok(await api('POST', '/api/v1/barclamps/network/proposals/default/commit'), 'commit network proposal');
  if (r.status !== 'applied') throw new CrowbarError('service.failed', `network proposal not applied: ${JSON.stringify(r).slice(0, 300)}`);
}

/** Allocates discovered nodes, `concurrency` API calls at a time. */
export class Allocator {
  private readonly queue: string[] = [];
  private running = 0;
  /** Nodes allocated. */
  done = 0;
  /** Failures (node, message). */
  readonly failures: Array<{ node: string; error: string }> = [];

  constructor(
    private readonly api: ApiCall,
    private readonly concurrency: number,
  ) {}

  /** Queue a node. */
  allocate(node: string): void {
    this.queue.push(node);
    this.pump();
  }

  /** One allocation; an operator retries a timeout or a 5xx (twice), not a refusal. */
  private async one(node: string): Promise<void> {
    let last = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await this.api('POST', `/api/v1/nodes/${node}/transition`, { to: 'hardware-installing' });
        if (r.status === 200) {
          this.done++;
          return;
        }
        last = `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`;
        if (r.status < 500) break;
      } catch (e) {
        last = String(e);
      }
      // After a timeout the transition may have happened: a refusal now says so.
      const cur = await this.api('GET', `/api/v1/nodes/${node}`).catch(() => null);
      if (cur?.status === 200 && cur.body.state !== 'discovered') {
        this.done++;
        return;
      }
    }
    this.failures.push({ node, error: last });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length) {
      const node = this.queue.shift()!;
      this.running++;
      void this.one(node)
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
