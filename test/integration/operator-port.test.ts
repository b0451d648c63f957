/**
 * The operator port (services.http.operator_port, src/api/operator-listener.ts)
 * and machine-traffic admission (src/api/admission.ts) on a real appliance
 * process: the same API, auth and console on both ports; machine requests
 * refused with 503 + Retry-After only when their queue is full; health
 * reports the counters; SIGTERM closes both ports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { nextPort, startAppliance, type RunningAppliance } from '../helpers/appliance.js';

let app: RunningAppliance;
let opPort: number;

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

beforeAll(async () => {
  opPort = nextPort() + 4000;
  // A queue of one: a burst of agent polls overflows it at once.
  app = await startAppliance({ config: { services: { http: { operator_port: opPort, machine_queue: 1, retry_after_seconds: 3 } } } });
}, 60_000);
afterAll(async () => {
  if (app) await app.kill();
});

describe('operator port and admission', () => {
  it('serves the same API, auth and console on the operator port', async () => {
    const op = `http://127.0.0.1:${opPort}`;
    expect((await fetch(`${op}/api/v1/nodes`)).status).toBe(401);
    const r = await fetch(`${op}/api/v1/nodes`, { headers: { authorization: `Bearer ${app.token}` } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual((await app.api('/api/v1/nodes')).body);
    expect((await fetch(`${op}/console/`)).status).toBe(200);
    const health = (await (await fetch(`${op}/api/v1/health`)).json()) as Record<string, any>;
    expect(health.machine_requests).toMatchObject({ refused: 0 });
    expect(health.memory.rss).toBeGreaterThan(10);
    expect(health.event_loop_delay_ms.max).toBeGreaterThanOrEqual(0);
  });

  it('refuses agent polls with 503 + Retry-After when the machine queue is full, never operator requests', async () => {
    // 60 polls in one burst (no token: each would be a 401 once admitted).
    const polls = await Promise.all(Array.from({ length: 60 }, () => fetch(`${app.baseUrl}/api/v1/agent/next`, { headers: { authorization: 'Bearer cbn_nope' } })));
    const codes = polls.map((r) => r.status);
    expect(codes.filter((c) => c === 503).length).toBeGreaterThan(0);
    expect(codes.every((c) => c === 503 || c === 401)).toBe(true);
    const busy = polls.find((r) => r.status === 503)!;
    expect(busy.headers.get('retry-after')).toBe('3');
    expect(await busy.json()).toMatchObject({ code: 'busy' });
    // Operator requests in the same kind of burst are all answered.
    const ops = await Promise.all(Array.from({ length: 30 }, () => fetch(`${app.baseUrl}/api/v1/nodes`, { headers: { authorization: `Bearer ${app.token}` } })));
    expect(ops.every((r) => r.status === 200)).toBe(true);
    const health = (await app.api('/api/v1/health')).body;
    expect(health.machine_requests.refused).toBe(codes.filter((c) => c === 503).length);
  });

  it('closes both ports on SIGTERM', async () => {
    expect(await app.stop()).toBe(0);
    expect(await refused(opPort)).toBe(true);
    expect(await refused(Number(new URL(app.baseUrl).port))).toBe(true);
  });
});
