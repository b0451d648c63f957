import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.js';
import { createAppliance, type Appliance } from '../../src/main.js';
import { memoryLogger } from '../../src/lib/logger.js';

let app: Appliance;
let dir: string;
let admin: string;
let readonly: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cb-api-'));
  const cfg = buildConfig({
    data_dir: dir,
    admin_network: { interface: 'lo', address: '127.0.0.1/8' },
    services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { bind: '127.0.0.1', port: 1 } },
  });
  app = await createAppliance(cfg, { log: memoryLogger() });
  admin = app.initialAdminToken!;
  readonly = app.tokens.create('viewer', 'readonly', Date.now()).token;
  app.nodes.create(['52:54:00:12:34:56'], { domain: 'crowbar.test' });
});
afterAll(() => {
  app.db.close();
  rmSync(dir, { recursive: true, force: true });
});

const auth = (t: string) => ({ authorization: `Bearer ${t}` });

describe('API authentication and errors', () => {
  it('writes the admin token 0600 on first start', () => {
    expect(admin).toMatch(/^cb_/);
    expect(statSync(join(dir, 'admin.token')).mode & 0o777).toBe(0o600);
  });

  it('health needs no token', async () => {
    const r = await app.http.inject({ method: 'GET', url: '/api/v1/health' });
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.payload).status).toBe('ok');
  });

  it('answers 401 without a token or with a bad one', async () => {
    const a = await app.http.inject({ method: 'GET', url: '/api/v1/nodes' });
    expect(a.statusCode).toBe(401);
    expect(JSON.parse(a.payload)).toMatchObject({ error: 'unauthorized', message: expect.stringMatching(/missing API token/) });
    expect(a.headers['www-authenticate']).toBe('Bearer');
    const b = await app.http.inject({ method: 'GET', url: '/api/v1/nodes', headers: auth('cb_nope') });
    expect(b.statusCode).toBe(401);
    expect(JSON.parse(b.payload).message).toMatch(/invalid API token/);
  });

  it('lists and gets nodes with a token', async () => {
    const r = await app.http.inject({ method: 'GET', url: '/api/v1/nodes', headers: auth(readonly) });
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.payload).nodes[0].name).toBe('d52-54-00-12-34-56.crowbar.test');
    const g = await app.http.inject({ method: 'GET', url: '/api/v1/nodes/d52-54-00-12-34-56.crowbar.test', headers: auth(readonly) });
    expect(JSON.parse(g.payload).state).toBe('discovered');
    const m = await app.http.inject({ method: 'GET', url: '/api/v1/nodes/nosuch', headers: auth(readonly) });
    expect(m.statusCode).toBe(404);
    expect(JSON.parse(m.payload).message).toMatch(/node nosuch not found/);
  });

  it('answers 400 with a message for a bad body', async () => {
    const url = '/api/v1/nodes/d52-54-00-12-34-56.crowbar.test/transition';
    const a = await app.http.inject({ method: 'POST', url, headers: auth(admin), payload: { state: 'ready' } });
    expect(a.statusCode).toBe(400);
    expect(JSON.parse(a.payload).message).toMatch(/body\.state: unknown field/);
    const b = await app.http.inject({ method: 'POST', url, headers: auth(admin), payload: {} });
    expect(b.statusCode).toBe(400);
    expect(JSON.parse(b.payload).message).toMatch(/body\.to: required string/);
    const c = await app.http.inject({ method: 'POST', url, headers: { ...auth(admin), 'content-type': 'application/json' }, payload: '{"to": ' });
    expect(c.statusCode).toBe(400);
    expect(JSON.parse(c.payload).message).toMatch(/Invalid request payload JSON format/);
    const d = await app.http.inject({ method: 'POST', url, headers: auth(admin), payload: [1] });
    expect(d.statusCode).toBe(400);
  });

  it('forbids a read-only token from acting', async () => {
    const r = await app.http.inject({
      method: 'POST',
      url: '/api/v1/nodes/d52-54-00-12-34-56.crowbar.test/transition',
      headers: auth(readonly),
      payload: { to: 'hardware-installing' },
    });
    expect(r.statusCode).toBe(403);
  });

  it('refuses an invalid transition listing the allowed ones, and performs a valid one', async () => {
    const url = '/api/v1/nodes/d52-54-00-12-34-56.crowbar.test/transition';
    const bad = await app.http.inject({ method: 'POST', url, headers: auth(admin), payload: { to: 'ready' } });
    expect(bad.statusCode).toBe(409);
    expect(JSON.parse(bad.payload).message).toMatch(/cannot go from discovered to ready; allowed: hardware-installing, discovering/);
    expect(JSON.parse(bad.payload).details.allowed).toContain('hardware-installing');
    const ok = await app.http.inject({ method: 'POST', url, headers: auth(admin), payload: { to: 'hardware-installing' } });
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.payload)).toMatchObject({ from: 'discovered', node: { state: 'hardware-installing', allocated: true } });
    const ev = await app.http.inject({ method: 'GET', url: '/api/v1/nodes/d52-54-00-12-34-56.crowbar.test/events', headers: auth(admin) });
    expect(JSON.parse(ev.payload).events[0]).toMatchObject({ from_state: 'discovered', to_state: 'hardware-installing', cause: 'api:admin' });
  });

  it('sets security headers', async () => {
    const r = await app.http.inject({ method: 'GET', url: '/api/v1/health' });
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });
});
