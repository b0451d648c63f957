/**
 * The installer path through the real hapi server (server.inject) on a real
 * SQLite database: the boot script of a hardware-installed node boots the
 * installer of its OS medium with a per-node install token; the config fetch
 * moves it to installing; post-install, the one-time credential (only from
 * the node's admin address), the join bundle and the `installed` report;
 * token expiry and revocation; reinstall/reset from every state.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPreseed } from '../../src/boot/preseed-check.js';
import { checkKickstart } from '../../src/boot/kickstart-check.js';
import { checkAutoinstall } from '../../src/boot/autoinstall-check.js';
import { installerBoot } from '../../src/boot/installer-args.js';
import { buildConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { readTar } from '../../src/lib/tar.js';
import { NODE_STATES } from '../../src/model/node.js';
import type { OsMedia } from '../../src/model/os.js';
import { createAppliance, type Appliance } from '../../src/main.js';
import { INSTALL_TOKEN_TTL_MS } from '../../src/services/installer.js';

const MAC = '52:54:00:12:34:56';
const HYPHEN = MAC.replace(/:/g, '-');
const NODE_IP = '10.9.8.10';

describe('installer path', () => {
  let dir: string;
  let app: Appliance;
  let log: ReturnType<typeof memoryLogger>;
  const clock = new ManualClock();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crowbar-inst-'));
    const cfg = buildConfig({
      data_dir: join(dir, 'data'),
      admin_network: { interface: 'br0', address: '10.9.8.1/24', domain: 'lab.test' },
      discovery: { image_cache: '' },
      services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { port: 8080 } },
    });
    log = memoryLogger();
    app = await createAppliance(cfg, { clock, log });
    const src = join(dir, 'debian');
    mkdirSync(src);
    writeFileSync(join(src, 'linux'), 'kernel');
    writeFileSync(join(src, 'initrd.gz'), 'initrd');
    writeFileSync(join(src, 'crowbar-os.json'), JSON.stringify({ name: 'debian-12-amd64', family: 'debian', version: '12', arch: 'amd64', method: 'installer', kernel: 'linux', initrd: 'initrd.gz' }));
    await app.osImporter.importDirectory(src);
  });
  afterEach(() => {
    app.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (url: string, ip = NODE_IP) => app.http.inject({ method: 'GET', url, remoteAddress: ip });
  const script = async () => (await get(`/boot/node/${HYPHEN}.ipxe`)).payload;

  async function hardwareInstalled(state: string = 'hardware-installed') {
    const r = await app.http.inject({ method: 'POST', url: '/api/v1/discovery', payload: { mac: MAC, inventory: { cpu_count: 2, cpu_model: 'T', memory_kb: 262144, disks: [{ name: 'vda', size_bytes: 8e9 }], nics: [{ name: 'eth0', mac: MAC, carrier: 1 }], dmi: {}, firmware: 'bios', bmc: {}, kernel: '6.1' } }, remoteAddress: '10.9.8.130' });
    expect(r.statusCode, r.payload).toBe(201);
    const node = app.nodeRepo.getByMac(MAC)!;
    app.nodeRepo.transition(node.id, node.state, state as never, 'test', null, clock.now());
    app.osMedia.setChoice(node.id, 'debian-12-amd64', clock.now());
    return app.nodeRepo.get(node.id)!;
  }

  it('boots the installer with a per-node token, serves a valid preseed, hands the credential once, and ends installed', async () => {
    const node = await hardwareInstalled();
    const s = await script();
    expect(s).toContain('kernel http://10.9.8.1:8080/os/debian-12-amd64/linux initrd=initrd.img auto=true priority=critical url=http://10.9.8.1:8080/install/cbi_');
    expect(s).toContain('hostname=d52-54-00-12-34-56 domain=lab.test interface=auto netcfg/no_default_route=true netcfg/get_nameservers=10.9.8.1');
    expect(s).toContain('initrd --name initrd.img http://10.9.8.1:8080/os/debian-12-amd64/initrd.gz');
    const token = /\/install\/(cbi_[A-Za-z0-9_-]+)\/config/.exec(s)![1];
    const base = `/install/${token}`;

    // Before the config is fetched the post-install URLs are refused.
    expect((await get(`${base}/join-token`)).statusCode).toBe(409);
    expect((await get('/install/cbi_notatokennotatokennotatoken/config')).statusCode).toBe(401);

    const cfg = await get(`${base}/config`);
    expect(cfg.statusCode, cfg.payload).toBe(200);
    expect(cfg.headers['cache-control']).toBe('no-store');
    expect(checkPreseed(cfg.payload)).toEqual([]);
    expect(cfg.payload).toContain('d-i mirror/http/hostname string 10.9.8.1:8080');
    expect(cfg.payload).toContain('d-i mirror/http/directory string /os/debian-12-amd64');
    expect(cfg.payload).toContain('d-i partman-auto/disk string /dev/vda');
    expect(cfg.payload).toContain(`${base}/post-install.sh`);
    expect(app.nodeRepo.get(node.id)!.state).toBe('installing');

    const post = await get(`${base}/post-install.sh`);
    expect(post.statusCode).toBe(200);
    expect(post.payload).toMatch(/^#!\/bin\/sh\n/);
    expect(post.payload).toContain(`'http://10.9.8.1:8080${base}/join-token'`);
    expect(post.payload).toContain('CROWBAR_NODE=d52-54-00-12-34-56.lab.test');

    // The credential only goes to the node's own admin address, once per token.
    expect((await get(`${base}/join-token`, '10.9.8.99')).statusCode).toBe(403);
    const cred = await get(`${base}/join-token`);
    expect(cred.statusCode).toBe(200);
    const nodeToken = cred.payload.trim();
    expect(nodeToken).toMatch(/^cbn_/);
    expect(app.discovery.authenticate(nodeToken).id).toBe(node.id);
    expect((await get(`${base}/join-token`)).statusCode).toBe(409);

    const bundle = await get(`${base}/join.tar.gz`);
    expect(bundle.statusCode).toBe(200);
    const entries = readTar(gunzipSync(bundle.rawPayload));
    const chef = entries.find((e) => e.path === 'chef-role.sh')!;
    expect(chef.mode & 0o111).not.toBe(0);
    expect(chef.data.toString()).toMatch(/^#!\/bin\/sh/);

    const done = await app.http.inject({ method: 'POST', url: `${base}/installed`, remoteAddress: NODE_IP });
    expect(done.statusCode, done.payload).toBe(200);
    expect(JSON.parse(done.payload)).toEqual({ node: node.name, state: 'installed' });
    expect(await script()).toContain('sanboot');
    // Every install token of the node died with the report.
    expect((await get(`${base}/config`)).statusCode).toBe(401);
    // No install token or node credential in any log line.
    const logged = JSON.stringify(log.records);
    expect(logged).not.toContain(token);
    expect(logged).not.toContain(nodeToken);
  });

  it('serves a checked kickstart to a Rocky node and NoCloud user-data/meta-data to an Ubuntu node', async () => {
    const mk = (name: string, files: Record<string, string>, manifest: Record<string, unknown>) => {
      const d = join(dir, name);
      mkdirSync(d, { recursive: true });
      for (const [f, b] of Object.entries(files)) {
        mkdirSync(join(d, f, '..'), { recursive: true });
        writeFileSync(join(d, f), b);
      }
      writeFileSync(join(d, 'crowbar-os.json'), JSON.stringify({ name, arch: 'amd64', method: 'installer', ...manifest }));
      return app.osImporter.importDirectory(d);
    };
    await mk('rocky-9.4-amd64', { 'images/pxeboot/vmlinuz': 'k', 'images/pxeboot/initrd.img': 'i' }, { family: 'rhel', version: '9.4', kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img' });
    await mk('ubuntu-24.04-amd64', { 'casper/vmlinuz': 'k', 'casper/initrd': 'i', 'ubuntu-24.04-amd64.iso': 'iso' }, { family: 'ubuntu', version: '24.04', kernel: 'casper/vmlinuz', initrd: 'casper/initrd', iso: 'ubuntu-24.04-amd64.iso' });
    const node = await hardwareInstalled();
    app.osMedia.setChoice(node.id, 'rocky-9.4-amd64', clock.now());
    let s = await script();
    expect(s).toContain('inst.ks=http://10.9.8.1:8080/install/cbi_');
    let token = /\/install\/(cbi_[A-Za-z0-9_-]+)\//.exec(s)![1];
    const ks = await get(`/install/${token}/config`);
    expect(ks.statusCode, ks.payload).toBe(200);
    expect(checkKickstart(ks.payload)).toEqual([]);
    expect(ks.payload).toContain('network --bootproto=static --device=52:54:00:12:34:56 --ip=10.9.8.10 --netmask=255.255.255.0');
    expect(ks.payload).toContain('url --url=http://10.9.8.1:8080/os/rocky-9.4-amd64/BaseOS');

    await app.nodes.transition(node.name, 'reinstall', 'test');
    app.osMedia.setChoice(node.id, 'ubuntu-24.04-amd64', clock.now());
    s = await script();
    expect(s).toContain('url=http://10.9.8.1:8080/os/ubuntu-24.04-amd64/ubuntu-24.04-amd64.iso autoinstall ds=nocloud-net;s=http://10.9.8.1:8080/install/cbi_');
    token = /s=http:\/\/10\.9\.8\.1:8080\/install\/(cbi_[A-Za-z0-9_-]+)\//.exec(s)![1];
    const ud = await get(`/install/${token}/user-data`);
    expect(ud.statusCode, ud.payload).toBe(200);
    expect(ud.headers['content-type']).toMatch(/^text\/cloud-config/);
    expect(checkAutoinstall(ud.payload)).toEqual([]);
    expect(app.nodeRepo.get(node.id)!.state).toBe('installing');
    const md = await get(`/install/${token}/meta-data`);
    expect(md.payload).toMatch(/^instance-id: crowbar-\d+-[0-9a-f]{12}\nlocal-hostname: d52-54-00-12-34-56\n$/);
    expect((await get(`/install/${token}/vendor-data`)).statusCode).toBe(200);
  });

  it('an operator chooses a node\'s OS by name or prefix; unknown names are refused', async () => {
    const node = await hardwareInstalled();
    const admin = app.initialAdminToken!;
    const put = (os: unknown) => app.http.inject({ method: 'PUT', url: `/api/v1/nodes/${node.name}/os`, payload: { os }, headers: { authorization: `Bearer ${admin}` } });
    const bad = await put('rocky-9');
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.payload).message).toMatch(/no imported OS is named rocky-9/);
    expect((await put('debian-12; reboot')).statusCode).toBe(400);
    const ok = await put('debian-12');
    expect(ok.statusCode, ok.payload).toBe(200);
    expect(JSON.parse(ok.payload)).toMatchObject({ chosen: 'debian-12', medium: 'debian-12-amd64', method: 'installer' });
    const cleared = JSON.parse((await put(null)).payload);
    expect(cleared).toMatchObject({ chosen: null, medium: null });
    expect(cleared.problem).toMatch(/no OS chosen/);
    expect((await app.http.inject({ method: 'GET', url: `/api/v1/nodes/${node.name}/os` })).statusCode).toBe(401);
  });

  it('install tokens expire after their lifetime', async () => {
    await hardwareInstalled();
    const token = /\/install\/(cbi_[A-Za-z0-9_-]+)\/config/.exec(await script())![1];
    clock.advance(INSTALL_TOKEN_TTL_MS + 1);
    const r = await get(`/install/${token}/config`);
    expect(r.statusCode).toBe(401);
    expect(JSON.parse(r.payload).message).toMatch(/expired/);
  });

  it('a node whose OS is not imported waits with the reason instead of booting', async () => {
    const node = await hardwareInstalled();
    app.osMedia.setChoice(node.id, 'rocky-9.4-amd64', clock.now());
    const s = await script();
    expect(s).toContain('no operating system install is configured');
    expect(log.records.some((r) => r.msg === 'cannot boot the OS install' && String(r.fields?.error).includes('rocky-9.4-amd64'))).toBe(true);
  });

  it('reinstall from any state boots the installer and power-cycles; reset boots discovery and power-cycles', async () => {
    const node = await hardwareInstalled();
    for (const from of NODE_STATES.filter((s) => s !== 'delete' && s !== 'reinstall' && s !== 'reset')) {
      app.nodeRepo.transition(node.id, app.nodeRepo.get(node.id)!.state, from, 'test', null, clock.now());
      const r = await app.nodes.transition(node.name, 'reinstall', 'test');
      expect(r.effects.map((e) => e.effect), from).toEqual(expect.arrayContaining([{ type: 'boot-device', device: 'pxe' }, { type: 'power', action: 'cycle' }]));
      expect(await script(), from).toContain('boots the debian-12-amd64 installer');
      const token = /\/install\/(cbi_[A-Za-z0-9_-]+)\/config/.exec(await script())![1];
      expect((await get(`/install/${token}/config`)).statusCode).toBe(200);
      expect(app.nodeRepo.get(node.id)!.state).toBe('installing');
      const z = await app.nodes.transition(node.name, 'reset', 'test');
      expect(z.effects.map((e) => e.effect), from).toEqual(expect.arrayContaining([{ type: 'boot-device', device: 'pxe' }, { type: 'power', action: 'cycle' }]));
      expect(await script(), from).toContain('/boot/files/discovery/vmlinuz');
    }
  });
});

describe('installer kernel command lines', () => {
  const m = (family: OsMedia['family'], version: string, meta: Record<string, unknown> = {}): OsMedia => ({ name: `${family}-${version}-amd64`, family, version, arch: 'amd64', method: 'installer', dir: '/x', kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img', image: null, meta, imported_at: 1 });
  const inp = { treeUrl: 'http://a/os/x/', installBase: 'http://a/install/cbi_T', hostname: 'n1', domain: 'lab.test', nameservers: ['10.0.0.1'] };
  it('Anaconda, d-i and subiquity each get their config URL; nothing else secret', () => {
    expect(installerBoot({ ...inp, media: m('rhel', '9.4') }).kernel_args).toBe('inst.ks=http://a/install/cbi_T/config inst.stage2=http://a/os/x/ ip=dhcp');
    expect(installerBoot({ ...inp, media: m('debian', '12') }).kernel_args).toBe('auto=true priority=critical url=http://a/install/cbi_T/config hostname=n1 domain=lab.test interface=auto netcfg/no_default_route=true netcfg/get_nameservers=10.0.0.1');
    expect(installerBoot({ ...inp, media: m('ubuntu', '24.04', { iso: 'ubuntu-24.04-live-server-amd64.iso' }) }).kernel_args).toBe(
      'ip=dhcp url=http://a/os/x/ubuntu-24.04-live-server-amd64.iso autoinstall ds=nocloud-net;s=http://a/install/cbi_T/ cloud-config-url=/dev/null',
    );
    expect(() => installerBoot({ ...inp, media: m('ubuntu', '24.04') })).toThrow(/no installer ISO/);
    expect(installerBoot({ ...inp, media: m('rhel', '9.4') }).kernel_url).toBe('http://a/os/x/images/pxeboot/vmlinuz');
  });
});
