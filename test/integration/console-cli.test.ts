/** `crowbar machines` as a real process against a real appliance. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDataDir, runCli, startAppliance, type RunningAppliance } from '../helpers/appliance.js';

let app: RunningAppliance;

async function crowbar(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const r = await runCli(args, { CROWBAR_URL: app.baseUrl, CROWBAR_DATA_DIR: app.dataDir, CROWBAR_TOKEN: '', ...env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const N1 = 'd52-54-00-cc-00-01.crowbar.test';
const N2 = 'd52-54-00-cc-00-02.crowbar.test';

beforeAll(async () => {
  app = await startAppliance();
  for (const m of ['52:54:00:cc:00:01', '52:54:00:cc:00:02', '52:54:00:cc:00:03']) expect((await app.api('/api/v1/nodes', { body: { macs: [m] } })).status).toBe(201);
});
afterAll(async () => {
  await app?.stop();
  if (app) removeDataDir(app.dataDir);
});

describe('crowbar machines', () => {
  it('lists as a table and as JSON (token from --data-dir)', async () => {
    const t = await crowbar(['machines', 'list']);
    expect(t.code).toBe(0);
    expect(t.out.split('\n')[0]).toMatch(/^NAME\s+STATE\s+MAC\s+ADDRESS\s+BMC\s+ALLOCATED$/);
    expect(t.out).toMatch(new RegExp(`${N1.replace(/\./g, '\\.')}\\s+discovered\\s+52:54:00:cc:00:01`));
    expect(t.out).toContain('3 node(s): 3 discovered');
    const j = await crowbar(['machines', 'list', '--json', '--url', app.baseUrl, '--data-dir', app.dataDir], { CROWBAR_URL: 'http://127.0.0.1:1', CROWBAR_DATA_DIR: '/nonexistent' });
    expect(j.code).toBe(0);
    const nodes = JSON.parse(j.out);
    expect(nodes.map((n: { name: string }) => n.name)).toContain(N2);
  });

  it('shows a node by short name or MAC', async () => {
    const s = await crowbar(['machines', 'show', 'd52-54-00-cc-00-01']);
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/^name\s+d52-54-00-cc-00-01\.crowbar\.test$/m);
    expect(s.out).toMatch(/^state\s+discovered$/m);
    expect(s.out).toContain('events (newest first)');
    const m = await crowbar(['machines', 'show', '52-54-00-CC-00-02', '--json']);
    expect(JSON.parse(m.out)).toMatchObject({ name: N2, state: 'discovered' });
  });

  it('allocates and waits with progress until the node reaches the state', async () => {
    const run = crowbar(['machines', 'allocate', 'd52-54-00-cc-00-01', '--wait', 'installing', '--timeout', '30']);
    // Drive the node forward as its agent would, while the CLI waits.
    const until = Date.now() + 15_000;
    while (Date.now() < until && (await app.api(`/api/v1/nodes/${N1}`)).body.state !== 'hardware-installing') await new Promise((r) => setTimeout(r, 100));
    await app.api(`/api/v1/nodes/${N1}/transition`, { body: { to: 'hardware-installed' } });
    await new Promise((r) => setTimeout(r, 300));
    await app.api(`/api/v1/nodes/${N1}/transition`, { body: { to: 'installing' } });
    const r = await run;
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${N1}: discovered -> hardware-installing`);
    expect(r.err).toMatch(/^\[[^\]]+\] 0\/1 installing · d52-54-00-cc-00-01: hardware-install(ing|ed)$/m);
    expect(r.err).toMatch(/\] 1\/1 installing\n$/);
    expect(r.err.match(/1\/1 installing/g)).toHaveLength(1);
  });

  it('fails the wait when the node goes to problem, and on timeout', async () => {
    const run = crowbar(['machines', 'allocate', N2, '--wait', 'ready', '--timeout', '30']);
    const until = Date.now() + 15_000;
    while (Date.now() < until && (await app.api(`/api/v1/nodes/${N2}`)).body.state !== 'hardware-installing') await new Promise((r) => setTimeout(r, 100));
    await app.api(`/api/v1/nodes/${N2}/transition`, { body: { to: 'problem', reason: 'raid failed' } });
    const r = await run;
    expect(r.code).toBe(1);
    expect(r.err).toContain(`failed: ${N2} went to problem`);
    const t = await crowbar(['machines', 'identify', 'd52-54-00-cc-00-03', '--wait', 'ready', '--timeout', '1']);
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/timed out after 1s waiting for ready/);
  });

  it('runs power and admin actions and reports effects; refuses invalid ones', async () => {
    const p = await crowbar(['machines', 'reboot', 'd52-54-00-cc-00-03', '--json']);
    expect(p.code).toBe(0);
    const res = JSON.parse(p.out);
    expect(res[0]).toMatchObject({ node: 'd52-54-00-cc-00-03.crowbar.test', from: 'discovered', to: 'discovered' });
    expect(res[0].effects.map((e: { effect: { type: string } }) => e.effect.type)).toContain('power');
    const bad = await crowbar(['machines', 'reinstall', 'nosuch']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('node nosuch not found');
    const d = await crowbar(['machines', 'delete', 'd52-54-00-cc-00-03']);
    expect(d.code).toBe(0);
    expect(d.out).toContain('discovered -> delete');
  });

  it('says what is wrong with the token or the URL', async () => {
    const t = await crowbar(['machines', 'list', '--token', 'cb_wrong']);
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/401: invalid API token/);
    const u = await crowbar(['machines', 'list'], { CROWBAR_URL: 'http://127.0.0.1:9' });
    expect(u.code).toBe(1);
    expect(u.err).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
    const h = await crowbar(['machines']);
    expect(h.code).toBe(2);
    expect(h.out).toContain('usage: crowbar machines');
  });
});
