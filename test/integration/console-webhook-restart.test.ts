/** A webhook delivery that could not be sent before a restart is sent after it. */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.js';
import { createAppliance } from '../../src/main.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { verifySignature } from '../../src/lib/signature.js';

const dir = mkdtempSync(join(tmpdir(), 'cb-hook-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cfg = () =>
  buildConfig({
    data_dir: dir,
    admin_network: { interface: 'lo', address: '127.0.0.1/8' },
    services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { bind: '127.0.0.1', port: 30000 + ((process.pid + 7) % 20000) } },
  });

describe('webhook durability', () => {
  it('keeps a pending delivery across a restart and delivers it when the receiver is back', async () => {
    // A port with nothing listening yet.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const a = await createAppliance(cfg(), { log: memoryLogger() });
    (a.webhooks as unknown as { policy: { baseDelayMs: number } }).policy.baseDelayMs = 60_000; // no retry before the "crash"
    a.webhooks.start();
    const hook = (await a.http.inject({ method: 'POST', url: '/api/v1/webhooks', headers: { authorization: `Bearer ${a.initialAdminToken}` }, payload: { url: `http://127.0.0.1:${port}/h`, events: ['node.*'] } })).result as { id: number; secret: string };
    a.nodes.create(['52:54:00:ee:00:01'], { domain: 'crowbar.test' });
    const until = Date.now() + 5000;
    let d: { status: string; attempts: number } | undefined;
    while (Date.now() < until) {
      d = (a.db.prepare('SELECT status, attempts FROM webhook_deliveries').get() as typeof d)!;
      if (d && d.attempts >= 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(d).toMatchObject({ status: 'pending', attempts: 1 });
    a.webhooks.stop();
    a.feed.stop();
    a.db.close();

    // Receiver comes up; the appliance restarts and the retry is due.
    const got: Array<{ sig: string; body: string }> = [];
    const rx = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push({ sig: String(req.headers['x-crowbar-signature']), body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => rx.listen(port, '127.0.0.1', () => r()));
    try {
      const b = await createAppliance(cfg(), { log: memoryLogger() });
      b.db.prepare('UPDATE webhook_deliveries SET next_attempt_at = 0').run(); // the backoff has elapsed
      b.webhooks.start();
      const end = Date.now() + 5000;
      while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      b.webhooks.stop();
      b.feed.stop();
      expect(got).toHaveLength(1);
      expect(JSON.parse(got[0].body)).toMatchObject({ type: 'node.created', data: { node: 'd52-54-00-ee-00-01.crowbar.test' } });
      expect(verifySignature(hook.secret, got[0].sig, got[0].body, Math.floor(Date.now() / 1000))).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      expect(b.db.prepare('SELECT status, attempts FROM webhook_deliveries').get()).toMatchObject({ status: 'delivered', attempts: 2 });
      b.db.close();
    } finally {
      rx.close();
    }
  });
});
