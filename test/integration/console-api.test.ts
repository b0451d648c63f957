import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server as HttpServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.js';
import { createAppliance, type Appliance } from '../../src/main.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { verifySignature } from '../../src/lib/signature.js';
import { DEFAULT_STREAM_LIMITS } from '../../src/api/events.js';

let app: Appliance;
let dir: string;
let admin: string;
let password: string;
const HOST = 'crowbar.test:8080';

beforeAll(async () => {
  DEFAULT_STREAM_LIMITS.heartbeatMs = 200; // streams re-check their credentials at each heartbeat
  dir = mkdtempSync(join(tmpdir(), 'cb-console-api-'));
  const cfg = buildConfig({
    data_dir: dir,
    admin_network: { interface: 'lo', address: '127.0.0.1/8' },
    services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { bind: '127.0.0.1', port: 30000 + (process.pid % 20000) } },
  });
  app = await createAppliance(cfg, { log: memoryLogger() });
  app.feed.start();
  app.webhooks.start();
  admin = app.initialAdminToken!;
  password = app.initialAdminPassword!;
});
afterAll(() => {
  app.feed.stop();
  app.webhooks.stop();
  app.db.close();
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function login(name: string, pw: string, extra: Record<string, string> = {}) {
  const r = await app.http.inject({ method: 'POST', url: '/api/v1/session', headers: { host: HOST, origin: `http://${HOST}`, ...extra }, payload: { name, password: pw }, remoteAddress: extra['x-test-source'] ?? '10.9.9.9' });
  return r;
}

function cookieOf(setCookie: string | string[] | undefined): string {
  const c = Array.isArray(setCookie) ? setCookie[0] : setCookie!;
  return c.split(';')[0];
}

describe('users and sessions', () => {
  it('creates the console admin on first start with a 0600 password file', () => {
    expect(password.length).toBeGreaterThanOrEqual(20);
    const f = join(dir, 'admin.password');
    expect(readFileSync(f, 'utf8').trim()).toBe(password);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const row = app.db.prepare("SELECT password_hash FROM users WHERE name = 'admin'").get() as { password_hash: string };
    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(row.password_hash).not.toContain(password);
  });

  it('logs in with a HttpOnly SameSite=Strict cookie, and the session authenticates API calls', async () => {
    const r = await login('admin', password);
    expect(r.statusCode).toBe(200);
    const sc = String(r.headers['set-cookie']);
    expect(sc).toMatch(/^crowbar_session=[A-Za-z0-9_-]{40,}; Path=\/; HttpOnly; SameSite=Strict/);
    expect(sc).not.toMatch(/Secure/);
    const body = JSON.parse(r.payload);
    expect(body).toMatchObject({ user: 'admin', role: 'admin' });
    const cookie = cookieOf(r.headers['set-cookie']);
    const who = await app.http.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie, host: HOST } });
    expect(JSON.parse(who.payload)).toEqual({ user: 'admin', role: 'admin', kind: 'session', csrf_token: body.csrf_token });
    const nodes = await app.http.inject({ method: 'GET', url: '/api/v1/nodes', headers: { cookie, host: HOST } });
    expect(nodes.statusCode).toBe(200);
  });

  it('refuses a wrong password with 401 and the same message for unknown users', async () => {
    const a = await login('admin', 'wrong-password-1', { 'x-test-source': '10.1.1.1' });
    const b = await login('nobody', 'wrong-password-1', { 'x-test-source': '10.1.1.1' });
    expect(a.statusCode).toBe(401);
    expect(b.statusCode).toBe(401);
    expect(JSON.parse(a.payload).message).toBe(JSON.parse(b.payload).message);
  });

  it('CSRF: a session POST without the token, with a wrong token, or from a foreign Origin is refused', async () => {
    const r = await login('admin', password);
    const cookie = cookieOf(r.headers['set-cookie']);
    const csrf = JSON.parse(r.payload).csrf_token as string;
    app.nodes.create(['52:54:00:00:00:01'], { domain: 'crowbar.test' });
    const url = '/api/v1/nodes/d52-54-00-00-00-01.crowbar.test/transition';
    const post = (headers: Record<string, string>) => app.http.inject({ method: 'POST', url, headers: { cookie, host: HOST, ...headers }, payload: { to: 'identify' } });
    const none = await post({ origin: `http://${HOST}` });
    expect(none.statusCode).toBe(403);
    expect(JSON.parse(none.payload).message).toMatch(/CSRF/);
    const wrong = await post({ origin: `http://${HOST}`, 'x-csrf-token': csrf.slice(0, -2) + 'xx' });
    expect(wrong.statusCode).toBe(403);
    const foreign = await post({ origin: 'http://evil.example', 'x-csrf-token': csrf });
    expect(foreign.statusCode).toBe(403);
    expect(JSON.parse(foreign.payload).message).toMatch(/cross-site/);
    const crossSite = await post({ 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf });
    expect(crossSite.statusCode).toBe(403);
    const ok = await post({ origin: `http://${HOST}`, 'x-csrf-token': csrf });
    expect(ok.statusCode).toBe(200);
    // A cross-site login attempt is refused too (login CSRF).
    const l = await app.http.inject({ method: 'POST', url: '/api/v1/session', headers: { host: HOST, origin: 'http://evil.example' }, payload: { name: 'admin', password } });
    expect(l.statusCode).toBe(403);
  });

  it('a read-only user can look but not act (403)', async () => {
    const c = await app.http.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { name: 'viewer', role: 'readonly', password: 'viewer-password-1' } });
    expect(c.statusCode).toBe(201);
    const r = await login('viewer', 'viewer-password-1');
    expect(r.statusCode).toBe(200);
    const cookie = cookieOf(r.headers['set-cookie']);
    const csrf = JSON.parse(r.payload).csrf_token as string;
    const h = { cookie, host: HOST, origin: `http://${HOST}`, 'x-csrf-token': csrf };
    expect((await app.http.inject({ method: 'GET', url: '/api/v1/nodes', headers: h })).statusCode).toBe(200);
    const act = await app.http.inject({ method: 'POST', url: '/api/v1/nodes/d52-54-00-00-00-01.crowbar.test/transition', headers: h, payload: { to: 'reboot' } });
    expect(act.statusCode).toBe(403);
    expect(JSON.parse(act.payload).message).toMatch(/operator role required/);
    expect((await app.http.inject({ method: 'GET', url: '/api/v1/users', headers: h })).statusCode).toBe(403);
    expect((await app.http.inject({ method: 'GET', url: '/api/v1/webhooks', headers: h })).statusCode).toBe(403);
  });

  it('rate-limits wrong passwords per user (429 with Retry-After), even for the right password afterwards', async () => {
    await app.http.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { name: 'victim', role: 'operator', password: 'victim-password-1' } });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await login('victim', `guess-${i}-xxxxxx`, { 'x-test-source': `10.2.0.${i}` })).statusCode);
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes[5]).toBe(429);
    const right = await login('victim', 'victim-password-1', { 'x-test-source': '10.2.1.1' });
    expect(right.statusCode).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    // Other users are not affected.
    expect((await login('viewer', 'viewer-password-1', { 'x-test-source': '10.2.1.1' })).statusCode).toBe(200);
  });

  it('rate-limits wrong passwords per source across user names', async () => {
    // 20 wrong passwords from one source, then 429 (the bucket refills 6/min, so allow for slow runs).
    const codes: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 40 && codes[codes.length - 1] !== 429; i++) codes.push((await login(`user${i}`, 'bad-password-xx', { 'x-test-source': '10.3.3.3' })).statusCode);
    const refill = Math.floor((Date.now() - t0) / 10_000);
    expect(codes[codes.length - 1]).toBe(429);
    expect(codes.filter((c) => c === 401).length).toBeGreaterThanOrEqual(20);
    expect(codes.filter((c) => c === 401).length).toBeLessThanOrEqual(20 + refill);
  });

  it('logout ends the session', async () => {
    const r = await login('admin', password, { 'x-test-source': '10.4.4.4' });
    const cookie = cookieOf(r.headers['set-cookie']);
    const csrf = JSON.parse(r.payload).csrf_token as string;
    const out = await app.http.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie, host: HOST, origin: `http://${HOST}`, 'x-csrf-token': csrf } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);
    const after = await app.http.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie, host: HOST } });
    expect(after.statusCode).toBe(401);
  });

  it('manages API tokens (admin): create shows the secret once, list hides it, revoke stops it', async () => {
    const c = await app.http.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(admin), payload: { name: 'ci', role: 'operator' } });
    expect(c.statusCode).toBe(201);
    const { token, id } = JSON.parse(c.payload);
    expect((await app.http.inject({ method: 'GET', url: '/api/v1/whoami', headers: bearer(token) })).statusCode).toBe(200);
    const l = await app.http.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer(admin) });
    expect(l.payload).not.toContain(token);
    expect(JSON.parse(l.payload).tokens.map((t: { name: string }) => t.name)).toContain('ci');
    expect((await app.http.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: bearer(admin) })).statusCode).toBe(204);
    expect((await app.http.inject({ method: 'GET', url: '/api/v1/whoami', headers: bearer(token) })).statusCode).toBe(401);
  });
});

describe('security headers and console assets', () => {
  it('serves the console with a CSP that forbids inline scripts', async () => {
    const r = await app.http.inject({ method: 'GET', url: '/console/' });
    expect(r.statusCode).toBe(200);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('same-origin');
    const api = await app.http.inject({ method: 'GET', url: '/api/v1/nodes' });
    expect(api.headers['content-security-policy']).toBe(csp);
    const esc = await app.http.inject({ method: 'GET', url: '/console/../../package.json' });
    expect([403, 404]).toContain(esc.statusCode);
  });
});

describe('OpenAPI', () => {
  it('lists every /api/v1 route with its auth requirement', async () => {
    const r = await app.http.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(r.statusCode).toBe(200);
    const doc = JSON.parse(r.payload);
    expect(doc.openapi).toMatch(/^3\./);
    const routes = app.http.table().filter((t) => t.path.startsWith('/api/v1'));
    expect(routes.length).toBeGreaterThan(25);
    for (const t of routes) {
      const op = doc.paths[t.path]?.[t.method];
      expect(op, `${t.method} ${t.path}`).toBeDefined();
      expect(Array.isArray(op.security)).toBe(true);
      if ((t.settings.auth as unknown) === false) expect(op.security).toEqual([]);
      else expect(op.security).toEqual([{ bearer: [] }, { session: [] }]);
    }
    expect(doc.paths['/api/v1/webhooks'].post['x-crowbar-role']).toBe('admin');
    expect(doc.paths['/api/v1/nodes/{name}/transition'].post['x-crowbar-role']).toBe('operator');
    expect(doc.paths['/api/v1/session'].post.security).toEqual([]);
  });
});

describe('event stream and webhooks', () => {
  it('streams node events as SSE and replays from Last-Event-ID', async () => {
    const board = await app.http.inject({ method: 'GET', url: '/api/v1/board', headers: bearer(admin) });
    const cursor = JSON.parse(board.payload).cursor as number;
    const n = app.nodes.create(['52:54:00:00:00:02'], { domain: 'crowbar.test' });
    await app.nodes.transition(n.name, 'hardware-installing', 'test');
    // Replay everything after the cursor through a real HTTP listener.
    await app.http.start();
    try {
      const url = `${app.http.info.uri}/api/v1/events/stream`;
      const ac = new AbortController();
      const res = await fetch(url, { headers: { ...bearer(admin), 'last-event-id': String(cursor) }, signal: ac.signal });
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('content-encoding')).not.toBe('gzip');
      const reader = res.body!.getReader();
      let text = '';
      const read = async (until: RegExp) => {
        const deadline = Date.now() + 5000;
        while (!until.test(text) && Date.now() < deadline) {
          const { value, done } = await reader.read();
          if (done) break;
          text += Buffer.from(value).toString();
        }
      };
      await read(/"to":"hardware-installing"/);
      const frames = text.split('\n\n').filter((f) => f.includes('data: {'));
      expect(frames[0]).toMatch(new RegExp(`^id: ${cursor + 1}\\ndata: `));
      const first = JSON.parse(frames[0].split('data: ')[1]);
      expect(first).toMatchObject({ type: 'node.created', data: { node: n.name, to: 'discovered', summary: { bucket: 'building', state: 'hardware-installing' } } });
      expect(JSON.parse(frames[1].split('data: ')[1])).toMatchObject({ type: 'node.transition', id: cursor + 2, data: { from: 'discovered', to: 'hardware-installing' } });
      // Live: a new transition and a proposal event arrive on the open stream.
      await app.nodes.transition(n.name, 'hardware-installed', 'test');
      app.bus.publish({ type: 'proposal.status', at: Date.now(), data: { barclamp: 'dns', proposal: 'default', status: 'applied' } });
      await read(/proposal\.status/);
      expect(text).toMatch(new RegExp(`id: ${cursor + 3}\\ndata: .*"to":"hardware-installed"`));
      expect(text).toMatch(/\ndata: \{"type":"proposal.status","id":null/);
      ac.abort();
      // Bad Last-Event-ID is a 400; no auth is a 401.
      expect((await fetch(url, { headers: { ...bearer(admin), 'last-event-id': 'x' } })).status).toBe(400);
      expect((await fetch(url)).status).toBe(401);
    } finally {
      await app.http.stop({ timeout: 100 });
    }
  });

  it('ends a stream when its session logs out or its token is revoked', async () => {
    await app.http.start();
    try {
      const url = `${app.http.info.uri}/api/v1/events/stream`;
      const readAll = async (res: Response) => {
        const reader = res.body!.getReader();
        let text = '';
        const t0 = Date.now();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return { text, ms: Date.now() - t0 };
          text += Buffer.from(value).toString();
        }
      };
      const r = await login('admin', password, { 'x-test-source': '10.5.5.5' });
      const cookie = cookieOf(r.headers['set-cookie']);
      const csrf = JSON.parse(r.payload).csrf_token as string;
      const s1 = await fetch(url, { headers: { cookie } });
      expect(s1.status).toBe(200);
      const ended1 = readAll(s1);
      await app.http.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie, host: HOST, origin: `http://${HOST}`, 'x-csrf-token': csrf } });
      const e1 = await ended1;
      expect(e1.text).toContain('"type":"stream.closed"');
      expect(e1.ms).toBeLessThan(3000);
      const t = JSON.parse((await app.http.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(admin), payload: { name: 'watch', role: 'readonly' } })).payload);
      const s2 = await fetch(url, { headers: bearer(t.token) });
      const ended2 = readAll(s2);
      await app.http.inject({ method: 'DELETE', url: `/api/v1/tokens/${t.id}`, headers: bearer(admin) });
      expect((await ended2).text).toContain('"type":"stream.closed"');
    } finally {
      await app.http.stop({ timeout: 100 });
    }
  });

  it('delivers signed webhooks, retries with backoff and logs every delivery', async () => {
    const received: Array<{ headers: Record<string, unknown>; body: string }> = [];
    let fail = 2;
    const srv: HttpServer = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (fail-- > 0) {
          res.writeHead(503).end();
          return;
        }
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (srv.address() as { port: number }).port;
      // A fast retry policy for the test.
      (app.webhooks as unknown as { policy: { baseDelayMs: number } }).policy.baseDelayMs = 50;
      const c = await app.http.inject({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(admin), payload: { url: `http://127.0.0.1:${port}/hook`, events: ['node.transition', 'proposal.*'] } });
      expect(c.statusCode).toBe(201);
      const hook = JSON.parse(c.payload);
      expect(hook.secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      const list = await app.http.inject({ method: 'GET', url: '/api/v1/webhooks', headers: bearer(admin) });
      expect(list.payload).not.toContain(hook.secret);
      const n = app.nodes.create(['52:54:00:00:00:03'], { domain: 'crowbar.test' }); // node.created: not subscribed
      await app.nodes.transition(n.name, 'hardware-installing', 'test');
      const deadline = Date.now() + 5000;
      while (received.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(received).toHaveLength(1);
      const got = received[0];
      expect(got.headers['x-crowbar-event']).toBe('node.transition');
      expect(verifySignature(hook.secret, String(got.headers['x-crowbar-signature']), got.body, Math.floor(Date.now() / 1000))).toBe(true);
      expect(verifySignature('another-secret-xxxxxxxx', String(got.headers['x-crowbar-signature']), got.body, Math.floor(Date.now() / 1000))).toBe(false);
      expect(JSON.parse(got.body)).toMatchObject({ type: 'node.transition', data: { node: n.name, from: 'discovered', to: 'hardware-installing' } });
      let d: Record<string, number | string> = {};
      while (Date.now() < deadline) {
        const log = await app.http.inject({ method: 'GET', url: `/api/v1/webhooks/${hook.id}/deliveries`, headers: bearer(admin) });
        d = JSON.parse(log.payload).deliveries[0];
        if (d.status === 'delivered') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(d).toMatchObject({ status: 'delivered', attempts: 3, last_status_code: 204, event_type: 'node.transition' });
      expect(Number(d.delivered_at)).toBeGreaterThanOrEqual(Number(d.created_at) + 50 + 100);
    } finally {
      srv.close();
    }
  });

  it('gives up after maxAttempts and marks the delivery failed', async () => {
    const policy = (app.webhooks as unknown as { policy: { baseDelayMs: number; maxAttempts: number } }).policy;
    policy.baseDelayMs = 10;
    policy.maxAttempts = 3;
    const c = await app.http.inject({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(admin), payload: { url: 'http://127.0.0.1:9/closed', events: ['proposal.*'] } });
    const hook = JSON.parse(c.payload);
    app.bus.publish({ type: 'proposal.status', at: Date.now(), data: { status: 'failed' } });
    let d: { status: string; attempts: number; last_error: string } | undefined;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const log = await app.http.inject({ method: 'GET', url: `/api/v1/webhooks/${hook.id}/deliveries`, headers: bearer(admin) });
      d = JSON.parse(log.payload).deliveries[0];
      if (d?.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(d).toMatchObject({ status: 'failed', attempts: 3 });
    expect(d!.last_error).toMatch(/fetch failed|ECONNREFUSED/);
  });
});

describe('session cookie over https', () => {
  it('uses the __Host- prefix and Secure when the public URL is https', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cb-console-https-'));
    try {
      const cfg = buildConfig({
        data_dir: d,
        admin_network: { interface: 'lo', address: '127.0.0.1/8' },
        services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { bind: '127.0.0.1', port: 8443, public_url: 'https://crowbar.example:8443' } },
      });
      const a = await createAppliance(cfg, { log: memoryLogger() });
      try {
        const r = await a.http.inject({ method: 'POST', url: '/api/v1/session', headers: { host: 'crowbar.example:8443', origin: 'https://crowbar.example:8443' }, payload: { name: 'admin', password: a.initialAdminPassword! } });
        expect(r.statusCode).toBe(200);
        expect(String(r.headers['set-cookie'])).toMatch(/^__Host-crowbar_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=86400; Secure$/);
        const cookie = cookieOf(r.headers['set-cookie']);
        expect((await a.http.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie } })).statusCode).toBe(200);
        // The plain-http cookie name is not accepted here.
        expect((await a.http.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: cookie.replace('__Host-', '') } })).statusCode).toBe(401);
      } finally {
        a.feed.stop();
        a.db.close();
      }
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
