/**
 * Discovery and agent endpoints through the real hapi server (server.inject),
 * on a real SQLite database in a temporary directory: registration, the
 * identity rule, refusals (forged MAC, oversized, malformed, rate limit),
 * agent next/transition/log with per-node tokens, and per-node iPXE scripts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { createAppliance, type Appliance } from '../../src/main.js';

const MAC = '52:54:00:12:34:56';

function inventory(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cpu_count: 2,
    cpu_model: 'Test CPU',
    memory_kb: 262144,
    disks: [{ name: 'vda', size_bytes: 4294967296, model: '', serial: 'DSK-1', rotational: 1 }],
    nics: [
      { name: 'eth0', mac: MAC, driver: 'virtio_net', carrier: 1, boot: true },
      { name: 'eth1', mac: '52:54:00:12:34:57', driver: 'e1000', speed_mbps: 1000, carrier: 0 },
    ],
    dmi: { sys_vendor: 'Lab', product_serial: 'SER-1', product_uuid: '11111111-2222-3333-4444-555555555555' },
    firmware: 'bios',
    bmc: {},
    kernel: '6.1.0',
    ...over,
  };
}

describe('discovery API', () => {
  let dir: string;
  let app: Appliance;
  let admin: string;
  const clock = new ManualClock();

  async function make(extra: Record<string, unknown> = {}): Promise<void> {
    dir = mkdtempSync(join(tmpdir(), 'crowbar-disc-'));
    const cfg = buildConfig({
      data_dir: dir,
      admin_network: { interface: 'br0', address: '10.9.8.1/24', domain: 'lab.test' },
      discovery: { image_cache: '', ...extra },
      services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { port: 8080 } },
    });
    app = await createAppliance(cfg, { clock, log: memoryLogger() });
    admin = app.initialAdminToken!;
  }

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}, ip = '10.9.8.130') =>
    app.http.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers }, remoteAddress: ip });
  const get = (url: string, token?: string) => app.http.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeEach(async () => make());
  afterEach(() => {
    app.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers a new machine as discovered with its admin address and a token', async () => {
    const r = await post('/api/v1/discovery', { mac: MAC, inventory: inventory() });
    expect(r.statusCode).toBe(201);
    const b = r.result as any;
    expect(b.node).toBe('d52-54-00-12-34-56.lab.test');
    expect(b.state).toBe('discovered');
    expect(b.admin_address).toBe('10.9.8.10');
    expect(b.token).toMatch(/^cbn_[A-Za-z0-9_-]{32}$/);
    const n = app.nodes.get(b.node);
    expect(n.macs).toEqual([MAC, '52:54:00:12:34:57']);
    expect(n.inventory.memory_kb).toBe(262144);
    // the token is stored hashed only
    const row = app.db.prepare('SELECT hash FROM agent_tokens').get() as { hash: string };
    expect(row.hash).not.toContain(b.token);
    expect(JSON.stringify(app.db.prepare('SELECT * FROM agent_tokens').all())).not.toContain(b.token);
  });

  it('reuses the node when the same machine registers again; the old token stops working', async () => {
    const a = (await post('/api/v1/discovery', { mac: MAC, inventory: inventory() })).result as any;
    const r = await post('/api/v1/discovery', { mac: MAC, inventory: inventory({ memory_kb: 262000 }) });
    expect(r.statusCode).toBe(200);
    const b = r.result as any;
    expect(b.node).toBe(a.node);
    expect(b.admin_address).toBe(a.admin_address);
    expect(app.nodes.list()).toHaveLength(1);
    expect((await get('/api/v1/agent/next', a.token)).statusCode).toBe(401);
    expect((await get('/api/v1/agent/next', b.token)).statusCode).toBe(200);
  });

  it('refuses another machine claiming a known MAC and leaves the node intact', async () => {
    const a = (await post('/api/v1/discovery', { mac: MAC, inventory: inventory() })).result as any;
    const before = app.nodes.get(a.node);
    const r = await post('/api/v1/discovery', { mac: MAC, inventory: inventory({ cpu_count: 64, dmi: { product_serial: 'OTHER', product_uuid: '99999999-2222-3333-4444-555555555555' } }) });
    expect(r.statusCode).toBe(409);
    expect((r.result as any).message).toMatch(/not the same machine/);
    // claiming the known MAC as a second NIC only
    const r2 = await post('/api/v1/discovery', { mac: '52:54:00:aa:aa:aa', inventory: inventory({ nics: [{ name: 'eth0', mac: '52:54:00:12:34:57' }], dmi: { product_serial: 'X' } }) });
    expect(r2.statusCode).toBe(409);
    expect(app.nodes.get(a.node)).toEqual(before);
    expect((await get('/api/v1/agent/next', a.token)).statusCode).toBe(200);
    expect(app.nodes.list()).toHaveLength(1);
  });

  it('without a usable DMI identity, the same machine is the same set of MACs', async () => {
    const noId = { dmi: { product_serial: 'To be filled by O.E.M.', product_uuid: '00000000-0000-0000-0000-000000000000' } };
    expect((await post('/api/v1/discovery', { mac: MAC, inventory: inventory(noId) })).statusCode).toBe(201);
    expect((await post('/api/v1/discovery', { mac: MAC, inventory: inventory(noId) })).statusCode).toBe(200);
    const fewer = await post('/api/v1/discovery', { mac: MAC, inventory: inventory({ ...noId, nics: [{ name: 'eth0', mac: MAC }] }) });
    expect(fewer.statusCode).toBe(409);
  });

  it('refuses a registration for a node that does not boot the discovery image in its state', async () => {
    const a = (await post('/api/v1/discovery', { mac: MAC, inventory: inventory() })).result as any;
    for (const to of ['hardware-installing', 'hardware-installed', 'installing', 'installed']) await app.nodes.transition(a.node, to, 'test');
    const r = await post('/api/v1/discovery', { mac: MAC, inventory: inventory() });
    expect(r.statusCode).toBe(409);
    expect((r.result as any).message).toMatch(/installed/);
  });

  it('refuses oversized, malformed and schema-violating bodies with 4xx', async () => {
    const big = JSON.stringify({ mac: MAC, inventory: inventory({ cpu_model: 'x'.repeat(70_000) }) });
    expect((await post('/api/v1/discovery', big)).statusCode).toBe(413);
    expect((await post('/api/v1/discovery', '{"mac": "52:54:00:12:34:56", "inventory": {')).statusCode).toBe(400);
    expect((await post('/api/v1/discovery', 'mac=1', { 'content-type': 'application/x-www-form-urlencoded' })).statusCode).toBe(415);
    const bad = [
      { mac: 'zz', inventory: inventory() },
      { mac: MAC },
      { mac: MAC, inventory: inventory({ cpu_count: -1 }) },
      { mac: MAC, inventory: inventory({ extra: 1 }) },
      { mac: MAC, inventory: inventory({ disks: [{ name: 'vda' }] }) },
      { mac: MAC, inventory: inventory({ nics: [{ name: 'eth0', mac: 'nope' }] }) },
      { mac: MAC, inventory: inventory({ cpu_model: 'y'.repeat(300) }) },
      { mac: MAC, inventory: inventory(), token: 'x' },
    ];
    for (const b of bad) {
      const r = await post('/api/v1/discovery', b);
      expect(r.statusCode, JSON.stringify(b).slice(0, 120)).toBe(400);
      expect((r.result as any).message).toMatch(/body\./);
    }
    expect(app.nodes.list()).toHaveLength(0);
  });

  it('rate-limits registrations per source address', async () => {
    app.db.close();
    rmSync(dir, { recursive: true, force: true });
    await make({ rate_per_minute: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await post('/api/v1/discovery', 'not json', {}, '10.9.8.140')).statusCode);
    expect(codes).toEqual([400, 400, 400, 429, 429]);
    // another source is not affected
    expect((await post('/api/v1/discovery', { mac: MAC, inventory: inventory() }, {}, '10.9.8.141')).statusCode).toBe(201);
    clock.advance(60_000);
    expect((await post('/api/v1/discovery', 'not json', {}, '10.9.8.140')).statusCode).toBe(400);
  });

  it('drives the agent: wait, hardware-install, reboot; agents may post only their own phases transitions', async () => {
    const a = (await post('/api/v1/discovery', { mac: MAC, inventory: inventory() })).result as any;
    const next = async () => (await get('/api/v1/agent/next', a.token)).result as any;
    expect(await next()).toMatchObject({ action: 'wait', state: 'discovered', interval: 5 });
    expect((await get('/api/v1/agent/next')).statusCode).toBe(401);
    expect((await get('/api/v1/agent/next', admin)).statusCode).toBe(401);
    // the operator allocates the node (moves it to hardware-installing)
    await app.nodes.transition(a.node, 'hardware-installing', 'test');
    expect(await next()).toMatchObject({ action: 'hardware-install', begin: 'hardware-installing', end: 'hardware-installed' });
    const tr = (to: string) => post('/api/v1/agent/transition', { to }, { authorization: `Bearer ${a.token}` });
    expect((await tr('reset')).statusCode).toBe(403);
    expect((await tr('discovered')).statusCode).toBe(403);
    expect((await tr('delete')).statusCode).toBe(403);
    // allowed for agents, but not from this state (lifecycle table)
    expect((await tr('ready')).statusCode).toBe(409);
    expect((await tr('hardware-installed')).statusCode).toBe(200);
    expect(await next()).toMatchObject({ action: 'reboot', state: 'hardware-installed' });
    expect((await tr('hardware-installed')).statusCode).toBe(409);
    // the operator API token is not a node token
    expect((await post('/api/v1/agent/transition', { to: 'problem' }, { authorization: `Bearer ${admin}` })).statusCode).toBe(401);
  });

  it('keeps agent logs per node, capped', async () => {
    app.db.close();
    rmSync(dir, { recursive: true, force: true });
    await make({ log_cap_bytes: 4096 });
    const a = (await post('/api/v1/discovery', { mac: MAC, inventory: inventory() })).result as any;
    const send = (text: string) =>
      app.http.inject({ method: 'POST', url: '/api/v1/agent/log', payload: text, headers: { 'content-type': 'text/plain', authorization: `Bearer ${a.token}` } });
    expect((await send('line one\nline two\x07\n\n')).result).toEqual({ stored: 2 });
    for (let i = 0; i < 20; i++) await send(`${i} ${'z'.repeat(400)}\n`);
    const r = await get(`/api/v1/nodes/${a.node}/log`, admin);
    const lines = (r.result as any).lines as Array<{ line: string }>;
    expect(lines.map((l) => l.line).join('\n').length).toBeLessThanOrEqual(4096 + 20);
    expect(lines.at(-1)!.line.startsWith('19 ')).toBe(true);
    expect(lines.some((l) => l.line === 'line one')).toBe(false);
    expect((await get(`/api/v1/nodes/${a.node}/log`)).statusCode).toBe(401);
  });

  it('renders per-node iPXE scripts by boot group, without secrets', async () => {
    const unknown = await get('/boot/node/52-54-00-99-99-99.ipxe');
    expect(unknown.statusCode).toBe(200);
    expect(unknown.headers['x-crowbar-boot-group']).toBe('discovery');
    const s = unknown.payload;
    expect(s.startsWith('#!ipxe\n')).toBe(true);
    expect(s).toContain('kernel http://10.9.8.1:8080/boot/files/discovery/vmlinuz initrd=initrd.img');
    expect(s).toContain('BOOTIF=01-52-54-00-99-99-99 crowbar.url=http://10.9.8.1:8080');
    expect(s).toContain('initrd --name initrd.img http://10.9.8.1:8080/boot/files/discovery/initrd.img');
    expect(s).not.toMatch(/cbn?_/);
    const a = (await post('/api/v1/discovery', { mac: MAC, inventory: inventory() })).result as any;
    const script = async (mac = '52-54-00-12-34-56') => (await get(`/boot/node/${mac}.ipxe`)).payload;
    expect(await script()).toContain('hardware-install');
    expect(await script()).not.toContain(a.token);
    await app.nodes.transition(a.node, 'hardware-installing', 'test');
    await app.nodes.transition(a.node, 'hardware-installed', 'test');
    expect(await script()).toContain('no operating system install is configured');
    app.bootScripts.setOsInstallSource(() => ({ name: 'debian-12', kernel_url: 'http://10.9.8.1:8080/boot/files/debian/linux', initrd_url: 'http://10.9.8.1:8080/boot/files/debian/initrd.gz', kernel_args: 'auto=true' }));
    expect(await script()).toContain('kernel http://10.9.8.1:8080/boot/files/debian/linux initrd=initrd.img auto=true BOOTIF=01-52-54-00-12-34-56');
    await app.nodes.transition(a.node, 'installing', 'test');
    await app.nodes.transition(a.node, 'installed', 'test');
    const local = await script('52:54:00:12:34:56');
    expect(local).toContain('sanboot --no-describe --drive 0x80');
    expect(local).toContain('iseq ${platform} efi && goto uefi');
    // UEFI: a failure status, so the firmware moves on to the disk instead of its boot menu
    expect(local).toMatch(/^:uefi\n(#.*\n)*exit 1$/m);
    expect(local).not.toMatch(/^exit$/m);
    expect((await get('/boot/node/not-a-mac.ipxe')).statusCode).toBe(404);
  });

  it('serves the hardware-install instruction only to the node itself, with its token', async () => {
    const a = (await post('/api/v1/discovery', { mac: MAC, inventory: inventory() })).result as any;
    const r = await get('/api/v1/agent/hardware-install', a.token);
    expect(r.statusCode).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.payload).toMatch(/^BMC_USER=/m);
    expect(r.payload).toMatch(/^BMC_PASSWORD=./m);
    expect((await get('/api/v1/agent/hardware-install', admin)).statusCode).toBe(401);
    expect((await get('/api/v1/agent/hardware-install')).statusCode).toBe(401);
    // the password is stored encrypted, never returned by the node API
    expect(JSON.stringify((await get(`/api/v1/nodes/${a.node}`, admin)).result)).not.toContain(/^BMC_PASSWORD=(.*)$/m.exec(r.payload)![1]);
  });
});
