/**
 * Proposals, hooks, run lists and the network barclamp inside a real
 * appliance object (createAppliance, in-process; routes via server.inject).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { buildConfig } from '../../src/config/load.js';
import { readTar } from '../../src/lib/tar.js';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { createAppliance, type Appliance } from '../../src/main.js';
import type { BusEvent } from '../../src/services/events.js';

const PATH = ['discovered', 'hardware-installing', 'hardware-installed', 'installing', 'installed', 'readying', 'ready'];
let app: Appliance;
let dir: string;
let events: BusEvent[];
let token: string;
let macSeq = 0;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cb-prop-'));
  const config = buildConfig({
    data_dir: dir,
    admin_network: { interface: 'lo', address: '10.77.0.1/24', domain: 'crowbar.test' },
    services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { bind: '127.0.0.1', port: 1 } },
  });
  app = await createAppliance(config, { clock: new ManualClock(), log: memoryLogger() });
  token = app.initialAdminToken!;
  events = [];
  app.bus.subscribe((e) => events.push(e));
});
afterEach(() => {
  app.proposals.stop();
  app.db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function api(method: string, url: string, payload?: unknown): Promise<{ status: number; body: any }> {
  const r = await app.http.inject({ method, url, payload: payload as object, headers: { authorization: `Bearer ${token}` } });
  return { status: r.statusCode, body: r.result };
}

function node(nics: Array<[string, number]> = [['eth0', 1000], ['eth1', 1000]]): string {
  macSeq++;
  const macs = nics.map((_, i) => `52:54:00:00:${macSeq.toString(16).padStart(2, '0')}:${i.toString(16).padStart(2, '0')}`);
  const inv = { nics: nics.map(([name, speed], i) => ({ name, mac: macs[i], speed_mbps: speed })) };
  return app.nodes.create(macs, { domain: 'crowbar.test', inventory: inv }).name;
}

async function toState(name: string, target: string): Promise<void> {
  let cur = app.nodeRepo.getByName(name)!.state as string;
  while (cur !== target) {
    const next = PATH[PATH.indexOf(cur) + 1];
    await app.nodes.transition(name, next, 'test');
    cur = next;
  }
  await app.proposals.idle();
}

async function commitCore(): Promise<void> {
  for (const bc of ['crowbar', 'network']) {
    expect((await api('POST', `/api/v1/barclamps/${bc}/proposals`, { name: 'default' })).status).toBe(201);
    expect((await api('POST', `/api/v1/barclamps/${bc}/proposals/default/commit`)).body.status).toBe('applied');
  }
}

describe('network barclamp', () => {
  it('allocates admin and bmc addresses when a node is discovered, releases them on delete', async () => {
    const n = node();
    const id = app.nodeRepo.getByName(n)!.id;
    const admin = app.allocations.get('admin', id)!;
    expect(admin.address).toBe('10.77.0.10');
    expect(app.allocations.get('bmc', id)!.address).toBe('192.168.128.21');
    const r = await app.nodes.transition(n, 'delete', 'test');
    expect(r.effects.find((e) => e.effect.type === 'release-allocations')?.status).toBe('done');
    expect(app.allocations.forNode(id)).toEqual([]);
  });

  it('honours suggested addresses, never hands one out twice, reports exhaustion', async () => {
    await commitCore();
    const p = (await api('GET', '/api/v1/barclamps/network/proposals/default')).body.proposal;
    p.attributes.network.networks.public.ranges = { host: { start: '192.168.122.2', end: '192.168.122.4' } };
    expect((await api('PUT', '/api/v1/barclamps/network/proposals/default', p)).status).toBe(200);
    expect((await api('POST', '/api/v1/barclamps/network/proposals/default/commit')).body.status).toBe('applied');
    const [a, b, c, d] = [node(), node(), node(), node()];
    const s = await api('POST', '/api/v1/networks/public/allocations', { node: a, suggested: '192.168.122.3' });
    expect(s.body.address).toBe('192.168.122.3');
    expect((await api('POST', '/api/v1/networks/public/allocations', { node: a })).body.address).toBe('192.168.122.3');
    // Suggested address taken: the lowest free one instead.
    expect((await api('POST', '/api/v1/networks/public/allocations', { node: b, suggested: '192.168.122.3' })).body.address).toBe('192.168.122.2');
    expect((await api('POST', '/api/v1/networks/public/allocations', { node: c })).body.address).toBe('192.168.122.4');
    const full = await api('POST', '/api/v1/networks/public/allocations', { node: d });
    expect(full.status).toBe(503);
    expect(full.body.message).toMatch(/network public: no free address in 192.168.122.2-192.168.122.4/);
    const addrs = (await api('GET', '/api/v1/networks/public/allocations')).body.allocations.map((x: any) => x.address);
    expect(new Set(addrs).size).toBe(addrs.length);
    expect((await api('DELETE', `/api/v1/networks/public/allocations/${b}`)).body.released).toBe(1);
    expect((await api('POST', '/api/v1/networks/public/allocations', { node: d })).body.address).toBe('192.168.122.2');
  });

  it('resolves the node interface plan from its NICs (team mode, 2x10g)', async () => {
    await commitCore();
    const p = (await api('GET', '/api/v1/barclamps/network/proposals/default')).body.proposal;
    p.attributes.network.mode = 'team';
    await api('PUT', '/api/v1/barclamps/network/proposals/default', p);
    await api('POST', '/api/v1/barclamps/network/proposals/default/commit');
    const n = node([['eth0', 10000], ['eth1', 10000]]);
    const plan = (await api('GET', `/api/v1/nodes/${n}/network`)).body;
    expect(plan.conduits.intf0).toMatchObject({ interfaces: ['eth0', 'eth1'], team: { name: 'bond0', mode: 6 } });
    expect(plan.interfaces[0]).toMatchObject({ network: 'admin', device: 'bond0', address: '10.77.0.10' });
  });

  it('refuses an admin network that differs from the appliance config', async () => {
    await api('POST', '/api/v1/barclamps/network/proposals', { name: 'default' });
    const p = (await api('GET', '/api/v1/barclamps/network/proposals/default')).body.proposal;
    expect(p.attributes.network.networks.admin.subnet).toBe('10.77.0.0');
    p.attributes.network.networks.admin.subnet = '10.99.0.0';
    const r = await api('PUT', '/api/v1/barclamps/network/proposals/default', p);
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/attributes.network.networks.admin.subnet: must be 10.77.0.0\/255.255.255.0/);
  });
});

describe('proposals', () => {
  it('schema errors name the field path; unknown roles and nodes too', async () => {
    await api('POST', '/api/v1/barclamps/ntp/proposals', { name: 'default' });
    const p = (await api('GET', '/api/v1/barclamps/ntp/proposals/default')).body.proposal;
    p.attributes.ntp.servers = ['10.0.0.1', 'pool.ntp.org'];
    p.attributes.ntp.iburst = 'yes';
    p.deployment.ntp.elements['ntp-server'] = ['x'];
    let r = await api('PUT', '/api/v1/barclamps/ntp/proposals/default', p);
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/attributes.ntp.servers\[1\]: must match/);
    expect(r.body.message).toMatch(/attributes.ntp.iburst: must be boolean, got string/);
    expect(r.body.details.errors.map((e: any) => e.path)).toEqual(['attributes.ntp.servers[1]', 'attributes.ntp.iburst']);
    p.attributes.ntp = { servers: [], iburst: true };
    r = await api('PUT', '/api/v1/barclamps/ntp/proposals/default', p);
    expect(r.body.message).toMatch(/deployment.ntp.elements.ntp-server: unknown role/);
    delete p.deployment.ntp.elements['ntp-server'];
    p.deployment.ntp.elements['ntp-client'] = ['ghost.crowbar.test'];
    r = await api('PUT', '/api/v1/barclamps/ntp/proposals/default', p);
    expect(r.body.message).toMatch(/deployment.ntp.elements.ntp-client\[0\]: unknown node "ghost.crowbar.test"/);
    expect((await api('POST', '/api/v1/barclamps/ntp/proposals', { name: 'bad name' })).status).toBe(400);
    expect((await api('POST', '/api/v1/barclamps/ntp/proposals', { name: 'default' })).status).toBe(409);
  });

  it('commits in dependency order: queued commits are released as required barclamps get applied', async () => {
    for (const bc of ['ntp', 'dns', 'network', 'crowbar']) await api('POST', `/api/v1/barclamps/${bc}/proposals`, { name: 'default' });
    const ntp = await api('POST', '/api/v1/barclamps/ntp/proposals/default/commit');
    expect(ntp.body).toMatchObject({ status: 'queued', waiting_for: ['barclamp crowbar has no applied proposal', 'barclamp dns has no applied proposal'] });
    expect((await api('POST', '/api/v1/barclamps/dns/proposals/default/commit')).body.status).toBe('queued');
    expect((await api('POST', '/api/v1/barclamps/network/proposals/default/commit')).body.status).toBe('queued');
    expect((await api('GET', '/api/v1/barclamps/ntp/proposals/default')).body.status_reason).toMatch(/waiting for: .*crowbar/);
    expect((await api('POST', '/api/v1/barclamps/crowbar/proposals/default/commit')).body.status).toBe('applied');
    await app.proposals.idle();
    const applied = events.filter((e) => e.type === 'proposal.applied').map((e) => e.data.proposal);
    expect(applied).toEqual(['bc-crowbar-default', 'bc-network-default', 'bc-dns-default', 'bc-ntp-default']);
    for (const bc of ['ntp', 'dns', 'network', 'crowbar']) expect((await api('GET', `/api/v1/barclamps/${bc}/proposals/default`)).body.status).toBe('applied');
    // Uninstall refused while applied or required.
    let r = await api('DELETE', '/api/v1/barclamps/dns');
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(/required by .*ntp/);
    r = await api('DELETE', '/api/v1/barclamps/lamp');
    expect(r.status).toBe(200);
    r = await api('DELETE', '/api/v1/barclamps/provisioner');
    expect(r.status).toBe(200);
    r = await api('DELETE', '/api/v1/barclamps/ntp');
    expect(r.status).toBe(409);
    expect(r.body.message).toMatch(/proposal bc-ntp-default \(applied\)/);
  });

  it('a queued commit is released when its nodes become ready; placement, hooks, peers and a real role script', async () => {
    await commitCore();
    const n1 = node();
    await toState(n1, 'ready');
    const c = await api('POST', '/api/v1/barclamps/nagios/proposals', { name: 'default' });
    expect(c.body.proposal.deployment.nagios.elements).toEqual({ 'nagios-server': [n1], 'nagios-client': [n1] });
    const n2 = node([['eth0', 1000], ['eth1', 10000]]);
    await toState(n2, 'installed');
    const p = c.body.proposal;
    p.deployment.nagios.elements['nagios-client'] = [n1, n2];
    expect((await api('PUT', '/api/v1/barclamps/nagios/proposals/default', p)).status).toBe(200);
    const diff = (await api('GET', '/api/v1/barclamps/nagios/proposals/default/diff')).body;
    expect(diff.nodes[n2]).toEqual({ add: ['nagios-client'], remove: [] });
    expect(diff.waiting_for).toEqual([`node ${n2} is installed, not ready`]);
    const r = await api('POST', '/api/v1/barclamps/nagios/proposals/default/commit');
    expect(r.body.status).toBe('queued');
    expect((await api('GET', `/api/v1/nodes/${n1}/runlist`)).body.roles.filter((x: any) => x.barclamp === 'nagios')).toEqual([]);
    await toState(n2, 'ready');
    expect((await api('GET', '/api/v1/barclamps/nagios/proposals/default')).body.status).toBe('applied');
    const st = (await api('GET', '/api/v1/barclamps/nagios/proposals/default/status')).body;
    expect(st.nodes[n2]).toEqual({ 'nagios-client': 'applied' });

    // A third node registers itself when it becomes ready (declarative hook).
    const n3 = node();
    await toState(n3, 'ready');
    const after = (await api('GET', '/api/v1/barclamps/nagios/proposals/default')).body;
    expect(after.applied.deployment.nagios.elements['nagios-client']).toEqual([n1, n2, n3]);

    // The server's run list lists every client with its admin address; run the real script.
    const rl = (await api('GET', `/api/v1/nodes/${n1}/runlist`)).body;
    // crowbar and network joined by their 'installed' hooks, nagios by placement.
    expect(rl.roles.map((x: any) => `${x.barclamp}/${x.role}`)).toEqual(['crowbar/crowbar-node', 'network/network', 'nagios/nagios-server', 'nagios/nagios-client']);
    const server = rl.roles.find((x: any) => x.role === 'nagios-server');
    expect(server.peers['nagios-client'].map((x: any) => x.address)).toEqual(['10.77.0.10', '10.77.0.11', '10.77.0.12']);
    const script = await app.http.inject({ method: 'GET', url: new URL(server.script.url).pathname, headers: { authorization: `Bearer ${token}` } });
    expect(script.statusCode).toBe(200);
    const root = join(dir, 'node-root');
    const scriptFile = join(dir, 'nagios-server.sh');
    writeFileSync(scriptFile, script.rawPayload);
    execFileSync('sh', [scriptFile], { env: { PATH: process.env.PATH, CB_ROOT: root, ...server.env } });
    const cfg = readFileSync(join(root, 'etc/nagios4/conf.d/crowbar-hosts.cfg'), 'utf8');
    for (const [n, a] of [[n1, '10.77.0.10'], [n2, '10.77.0.11'], [n3, '10.77.0.12']]) expect(cfg).toContain(`host_name           ${n}\n  address             ${a}`);
    // The network role's script writes ifupdown config for the node's plan (storage on VLAN 200).
    const net = rl.roles.find((x: any) => x.role === 'network');
    const netScript = await app.http.inject({ method: 'GET', url: new URL(net.script.url).pathname, headers: { authorization: `Bearer ${token}` } });
    writeFileSync(join(dir, 'network.sh'), netScript.rawPayload);
    execFileSync('sh', [join(dir, 'network.sh')], { env: { PATH: process.env.PATH, CB_ROOT: root, ...net.env } });
    const ifaces = readFileSync(join(root, 'etc/network/interfaces.d/crowbar'), 'utf8');
    expect(ifaces).toContain('iface eth0 inet static\n  address 10.77.0.10');
    expect(ifaces).toContain('iface eth0.200 inet static\n  address 192.168.125.10');
    // The agent reports: element_states follow.
    let rep = await api('POST', `/api/v1/nodes/${n1}/runlist/status`, { results: [{ barclamp: 'nagios', proposal: 'default', role: 'nagios-server', status: 'ready' }, { barclamp: 'nagios', proposal: 'default', role: 'nagios-client', status: 'failed', message: 'nrpe missing' }] });
    expect(rep.body).toEqual({ updated: 2 });
    expect((await api('GET', '/api/v1/barclamps/nagios/proposals/default/status')).body.nodes[n1]).toEqual({ 'nagios-server': 'ready', 'nagios-client': 'failed' });
    rep = await api('POST', `/api/v1/nodes/${n2}/runlist/status`, { results: [{ barclamp: 'nagios', proposal: 'default', role: 'nagios-server', status: 'ready' }] });
    expect(rep.status).toBe(400);
    expect(rep.body.message).toMatch(/results\[0\]: node .* has no role nagios-server/);
    // ETag: unchanged run list -> 304.
    const again = await app.http.inject({ method: 'GET', url: `/api/v1/nodes/${n1}/runlist`, headers: { authorization: `Bearer ${token}`, 'if-none-match': `"${rl.revision}"` } });
    expect(again.statusCode).toBe(304);
  });

  it('applies element_order batches in order, dequeues and deletes', async () => {
    await commitCore();
    for (const bc of ['dns', 'ntp', 'logging']) {
      await api('POST', `/api/v1/barclamps/${bc}/proposals`, { name: 'default' });
      await api('POST', `/api/v1/barclamps/${bc}/proposals/default/commit`);
    }
    const a = node();
    const b = node();
    await toState(a, 'ready');
    await toState(b, 'ready');
    const lamp = (await api('POST', '/api/v1/barclamps/lamp/proposals', { name: 'shop' })).body;
    expect(lamp.proposal.deployment.lamp.elements).toEqual({ 'lamp-database': [a], 'lamp-web': [a, b], 'lamp-balancer': [a] });
    events.length = 0;
    expect((await api('POST', '/api/v1/barclamps/lamp/proposals/shop/commit')).body.status).toBe('applied');
    expect(events.filter((e) => e.type === 'proposal.batch').map((e) => e.data.roles)).toEqual([['lamp-database'], ['lamp-web'], ['lamp-balancer']]);
    const web = (await api('GET', `/api/v1/nodes/${b}/runlist`)).body.roles.find((x: any) => x.role === 'lamp-web');
    expect(web.env.CB_PEERS_LAMP_DATABASE).toBe(`${a}=10.77.0.10`);
    // ntp joined b through its 'installed' hook; its chef implementation is a content-addressed cookbook archive.
    const ntpEntry = (await api('GET', `/api/v1/nodes/${b}/runlist`)).body.roles.find((x: any) => x.role === 'ntp-client');
    expect(ntpEntry.chef.recipes).toEqual(['ntp::default']);
    const cb = await app.http.inject({ method: 'GET', url: new URL(ntpEntry.chef.cookbooks.url).pathname, headers: { authorization: `Bearer ${token}` } });
    expect(createHash('sha256').update(cb.rawPayload).digest('hex')).toBe(ntpEntry.chef.cookbooks.sha256);
    expect(readTar(gunzipSync(cb.rawPayload)).map((e) => e.path)).toContain('cookbooks/ntp/recipes/default.rb');
    expect((await api('GET', `/api/v1/content/${'0'.repeat(64)}`)).status).toBe(404);
    // max_count is enforced by validation.
    const doc = lamp.proposal;
    doc.deployment.lamp.elements['lamp-database'] = [a, b];
    const bad = await api('PUT', '/api/v1/barclamps/lamp/proposals/shop', doc);
    expect(bad.body.message).toMatch(/deployment.lamp.elements.lamp-database: at most 1 node\(s\)/);
    // Dequeue: a node not ready -> queued -> dequeued.
    const c = node();
    doc.deployment.lamp.elements['lamp-database'] = [a];
    doc.deployment.lamp.elements['lamp-web'] = [a, b, c];
    await api('PUT', '/api/v1/barclamps/lamp/proposals/shop', doc);
    expect((await api('POST', '/api/v1/barclamps/lamp/proposals/shop/commit')).body.status).toBe('queued');
    expect((await api('DELETE', '/api/v1/barclamps/lamp/proposals/shop')).status).toBe(409);
    expect((await api('POST', '/api/v1/barclamps/lamp/proposals/shop/dequeue')).body.status).toBe('applied');
    expect((await api('DELETE', '/api/v1/barclamps/lamp/proposals/shop')).body.deleted).toBe('bc-lamp-shop');
    expect((await api('GET', `/api/v1/nodes/${b}/runlist`)).body.roles.some((x: any) => x.barclamp === 'lamp')).toBe(false);
    const audit = (await api('GET', '/api/v1/barclamps-audit?barclamp=lamp')).body.events.map((e: any) => e.action);
    expect(audit).toEqual(['proposal-delete', 'proposal-dequeue', 'proposal-queue', 'proposal-edit', 'proposal-apply', 'proposal-create']);
  });

  it('needs operator to edit and admin to install', async () => {
    const ro = app.tokens.create('viewer', 'readonly', 0).token;
    const op = app.tokens.create('op', 'operator', 0).token;
    const as = async (t: string, method: string, url: string, payload?: unknown) =>
      (await app.http.inject({ method, url, payload: payload as object, headers: { authorization: `Bearer ${t}` } })).statusCode;
    expect(await as(ro, 'GET', '/api/v1/barclamps')).toBe(200);
    expect(await as(ro, 'POST', '/api/v1/barclamps/ntp/proposals', { name: 'x' })).toBe(403);
    expect(await as(op, 'POST', '/api/v1/barclamps/ntp/proposals', { name: 'x' })).toBe(201);
    expect(await as(op, 'DELETE', '/api/v1/barclamps/ntp')).toBe(403);
    expect((await app.http.inject({ method: 'GET', url: '/api/v1/barclamps' })).statusCode).toBe(401);
  });
});
