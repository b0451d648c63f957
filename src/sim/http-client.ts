/**
 * HTTP as a simulated machine speaks it: every request leaves from the
 * machine's own (DHCP-assigned) address, so the appliance sees one source
 * per machine (its per-source registration limit applies per machine, as on
 * a real admin network). Bodies are read up to a byte budget and the
 * connection is then dropped, which keeps thousands of image downloads
 * feasible while still exercising the file route.
 */
import { Agent, request } from 'node:http';
import { CrowbarError, errorMessage } from '../lib/errors.js';

/** A response. */
export interface SimResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Bytes received (may be less than the file when cut at the budget). */
  bytes: number;
}

/** One request. */
export interface SimRequest {
  method?: string;
  url: string;
  /** Source address. */
  local: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Read at most this many body bytes (0: all). */
  budget?: number;
  timeoutMs: number;
}

/** Sends HTTP requests for simulated machines. */
export interface SimHttp {
  send(r: SimRequest): Promise<SimResponse>;
  /** Close idle connections of one source. */
  release(local: string): void;
}

/** node:http transport with one small keep-alive pool per source address. */
export function nodeSimHttp(): SimHttp {
  const agents = new Map<string, Agent>();
  const agentFor = (local: string) => {
    let a = agents.get(local);
    if (!a) {
      a = new Agent({ keepAlive: true, maxSockets: 2, localAddress: local } as ConstructorParameters<typeof Agent>[0]);
      agents.set(local, a);
    }
    return a;
  };
  return {
    send(r) {
      return new Promise<SimResponse>((resolve, reject) => {
        const u = new URL(r.url);
        const budget = r.budget ?? 0;
        const req = request(
          { method: r.method ?? 'GET', host: u.hostname, port: u.port || 80, path: u.pathname + u.search, headers: r.headers, agent: agentFor(r.local), localAddress: r.local, timeout: r.timeoutMs },
          (res) => {
            const chunks: Buffer[] = [];
            let bytes = 0;
            let cut = false;
            res.on('data', (c: Buffer) => {
              if (cut) return;
              bytes += c.length;
              if (budget === 0 || bytes <= budget) chunks.push(c);
              if (budget > 0 && bytes >= budget) {
                cut = true;
                res.destroy();
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytes });
              }
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), bytes }));
            res.on('error', (e) => {
              if (!cut) reject(new CrowbarError('service.failed', `HTTP ${r.method ?? 'GET'} ${u.pathname}: ${errorMessage(e)}`));
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`timed out after ${r.timeoutMs} ms`)));
        req.on('error', (e) => reject(new CrowbarError('service.failed', `HTTP ${r.method ?? 'GET'} ${u.pathname}: ${errorMessage(e)}`)));
        if (r.body !== undefined) req.end(r.body);
        else req.end();
      });
    },
    release(local) {
      agents.get(local)?.destroy();
      agents.delete(local);
    },
  };
}
