/**
 * Image-based install through the real hapi server (server.inject) on a real
 * SQLite database: the root image build cache is imported as an OS medium at
 * start; a node whose OS is that image boots the discovery image again in
 * os-install (image-install.ipxe), may register again, gets the
 * `image-install` plan from /agent/next, swaps its token for a join token,
 * and then reads and reports its own run list with that token (not another
 * node's). A node whose medium is an installer gets none of this.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { createAppliance, type Appliance } from '../../src/main.js';

const MAC = '52:54:00:12:34:56';
const MAC2 = '52:54:00:12:34:99';
const OS = 'debian-12-amd64-image';

function inventory(mac: string, serial: string): Record<string, unknown> {
  return {
    cpu_count: 1,
    memory_kb: 786432,
    disks: [{ name: 'vda', size_bytes: 4294967296, model: '', serial: 'DSK-' + serial, rotational: 1 }],
    nics: [{ name: 'eth0', mac, driver: 'virtio_net', carrier: 1, boot: true }],
    dmi: { sys_vendor: 'Lab', product_serial: serial, product_uuid: `11111111-2222-3333-4444-${serial.padStart(12, '0')}` },
    firmware: 'bios',
    bmc: {},
    kernel: '6.1.0',
  };
}

describe('image install API', () => {
  let dir: string;
  let app: Appliance;
  let admin: string;
  let sha = '';
  const clock = new ManualClock();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crowbar-img-'));
    // a root image build cache as images/build-root-image.sh leaves it (a real, tiny tar.gz)
    const cache = join(dir, 'cache');
    mkdirSync(join(cache, 'tree', 'etc'), { recursive: true });
    writeFileSync(join(cache, 'tree', 'etc', 'os-release'), 'ID=debian\n');
    execFileSync('tar', ['-C', join(cache, 'tree'), '-czf', join(cache, 'root.tar.gz'), '.']);
    rmSync(join(cache, 'tree'), { recursive: true });
    sha = createHash('sha256').update(readFileSync(join(cache, 'root.tar.gz'))).digest('hex');
    writeFileSync(join(cache, 'crowbar-os.json'), JSON.stringify({ name: OS, family: 'debian', version: '12', arch: 'amd64', method: 'image', image: 'root.tar.gz', sha256: sha, format: 'tar.gz' }));
    const cfg = buildConfig({
      data_dir: join(dir, 'data'),
      admin_network: { interface: 'br0', address: '10.9.8.1/24', domain: 'lab.test', router: '10.9.8.254' },
      discovery: { image_cache: '', root_image_cache: cache },
      services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { port: 8080, public_url: 'http://10.9.8.1' } },
    });
    app = await createAppliance(cfg, { clock, log: memoryLogger() });
    admin = app.initialAdminToken!;
    for (let i = 0; i < 100 && !app.osMedia.get(OS); i++) await new Promise((r) => setTimeout(r, 20));
  });
  afterEach(() => {
    app.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (url: string, payload: unknown, token?: string) =>
    app.http.inject({ method: 'POST', url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, remoteAddress: '10.9.8.130' });
  const get = (url: string, token?: string) => app.http.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const register = async (mac: string, serial: string) => (await post('/api/v1/discovery', { mac, inventory: inventory(mac, serial) })).result as any;

  it('imports the cached root image at start as an image medium served under /os/', async () => {
    const m = app.osMedia.get(OS)!;
    expect(m.method).toBe('image');
    expect(m.meta.sha256).toBe(sha);
    const r = await get(`/os/${OS}/root.tar.gz`);
    expect(r.statusCode).toBe(200);
    expect(createHash('sha256').update(r.rawPayload).digest('hex')).toBe(sha);
  });

  it('boots the discovery image in os-install, hands out the plan and a join token, then the join agent uses its own run list only', async () => {
    const a = await register(MAC, 'S1');
    const b = await register(MAC2, 'S2');
    app.osMedia.setChoice(app.nodes.get(a.node).id, 'debian-12', clock.now());
    app.osMedia.setChoice(app.nodes.get(b.node).id, 'debian-12', clock.now());
    for (const to of ['hardware-installing', 'hardware-installed']) await app.nodes.transition(a.node, to, 'test');
    // the boot script: the discovery kernel again, marked image-install, no secret
    const script = (await get(`/boot/node/${MAC}.ipxe`)).payload;
    expect(script).toContain('crowbar.group=image-install');
    expect(script).toContain('/boot/files/discovery/vmlinuz');
    expect(script).not.toContain(a.token);
    // it registers again (allowed only because its medium is an image): new token, same node
    const again = await post('/api/v1/discovery', { mac: MAC, inventory: inventory(MAC, 'S1') });
    expect(again.statusCode).toBe(200);
    const tok = (again.result as any).token as string;
    const next = (await get('/api/v1/agent/next', tok)).result as any;
    expect(next).toMatchObject({
      action: 'image-install',
      os: OS,
      image_url: `http://10.9.8.1/os/${OS}/root.tar.gz`,
      image_sha256: sha,
      image_format: 'tar.gz',
      hostname: 'd52-54-00-12-34-56',
      domain: 'lab.test',
      admin_address: a.admin_address,
      admin_prefix: 24,
      admin_router: '10.9.8.254',
      admin_dns: '10.9.8.1',
      appliance_url: 'http://10.9.8.1',
      // no raid proposal: the agent picks the first whole disk
      disk_layout: 'single',
      disks: 'vda',
    });
    expect((await post('/api/v1/agent/transition', { to: 'installing' }, tok)).statusCode).toBe(200);
    // the join token replaces the install agent's token
    const jt = await post('/api/v1/agent/join-token', {}, tok);
    expect(jt.statusCode).toBe(200);
    expect(jt.headers['cache-control']).toBe('no-store');
    const join = (jt.result as any).token as string;
    expect(join).toMatch(/^cbn_/);
    expect((await get('/api/v1/agent/next', tok)).statusCode).toBe(401);
    expect((await post('/api/v1/agent/transition', { to: 'installed' }, join)).statusCode).toBe(200);
    expect((await get(`/boot/node/${MAC}.ipxe`)).payload).toContain('local disk');
    // a node that does not install an image gets no join token
    expect((await post('/api/v1/agent/join-token', {}, b.token)).statusCode).toBe(409);
    // the installed node reads and reports its own run list with the join token, not another node's
    const rl = await get(`/api/v1/nodes/${a.node}/runlist`, join);
    expect(rl.statusCode).toBe(200);
    const etag = rl.headers.etag as string;
    expect((await app.http.inject({ method: 'GET', url: `/api/v1/nodes/${a.node}/runlist`, headers: { authorization: `Bearer ${join}`, 'if-none-match': etag } })).statusCode).toBe(304);
    expect((await get(`/api/v1/nodes/${b.node}/runlist`, join)).statusCode).toBe(403);
    expect((await post(`/api/v1/nodes/${a.node}/runlist/status`, { results: [] }, join)).statusCode).toBe(200);
    expect((await post(`/api/v1/nodes/${b.node}/runlist/status`, { results: [] }, join)).statusCode).toBe(403);
    expect((await get(`/api/v1/content/${'0'.repeat(64)}`, join)).statusCode).toBe(404);
    expect((await get(`/api/v1/content/${'0'.repeat(64)}`)).statusCode).toBe(401);
    // operators keep their access
    expect((await get(`/api/v1/nodes/${b.node}/runlist`, admin)).statusCode).toBe(200);
  });

  it('a node whose medium is an installer does not boot the discovery image in os-install nor re-register there', async () => {
    const a = await register(MAC, 'S1');
    app.osMedia.setChoice(app.nodes.get(a.node).id, 'ubuntu-24.04', clock.now());
    for (const to of ['hardware-installing', 'hardware-installed']) await app.nodes.transition(a.node, to, 'test');
    expect((await get(`/boot/node/${MAC}.ipxe`)).payload).not.toContain('image-install');
    expect((await post('/api/v1/discovery', { mac: MAC, inventory: inventory(MAC, 'S1') })).statusCode).toBe(409);
    expect(((await get('/api/v1/agent/next', a.token)).result as any).action).toBe('reboot');
  });
});
