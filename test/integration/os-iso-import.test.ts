/**
 * `crowbar os import ISO|DIR` through the API on a real appliance database.
 * No real Rocky/Ubuntu/Debian ISOs can be downloaded here, so the ISOs are
 * built with xorriso from synthetic trees that mirror each distribution's
 * real layout (.treeinfo + images/pxeboot + BaseOS/AppStream; .disk/info +
 * casper/; .disk/info + dists/ + install.amd/). The Debian installer kernel
 * and initrd are the real ones from Debian's debian-installer-12-netboot-amd64.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { createAppliance, type Appliance } from '../../src/main.js';
import { osVerb } from '../../src/cli/os.js';

const NETBOOT = '/usr/lib/debian-installer/images/12/amd64/text';
const haveTools = existsSync('/usr/bin/xorriso') && existsSync(`${NETBOOT}/debian-installer/amd64/linux`);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function tree(root: string, files: Record<string, string>): string {
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), body);
  }
  return root;
}

function iso(dir: string, out: string, label: string): string {
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', label, '-o', out, dir], { stdio: 'pipe' });
  return out;
}

const ROCKY = {
  '.treeinfo': '[header]\ntype = productmd.treeinfo\nversion = 1.2\n\n[release]\nname = Rocky Linux\nshort = Rocky\nversion = 9.4\n\n[tree]\narch = x86_64\nbuild_timestamp = 1714700000\nplatforms = x86_64,xen\nvariants = AppStream,BaseOS\n\n[general]\narch = x86_64\nfamily = Rocky Linux\nname = Rocky Linux 9.4\nversion = 9.4\n\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\nboot.iso = images/boot.iso\n\n[stage2]\nmainimage = images/install.img\n\n[variant-BaseOS]\nid = BaseOS\nname = BaseOS\npackages = BaseOS/Packages\nrepository = BaseOS\ntype = variant\n',
  'images/pxeboot/vmlinuz': 'rocky kernel\n',
  'images/pxeboot/initrd.img': 'rocky initrd\n',
  'images/install.img': 'stage2\n',
  'BaseOS/repodata/repomd.xml': '<repomd/>\n',
  'AppStream/repodata/repomd.xml': '<repomd/>\n',
};

describe.skipIf(!haveTools)('OS import from ISOs and trees', () => {
  let dir: string;
  let app: Appliance;
  let admin: string;
  const clock = new ManualClock();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crowbar-iso-'));
    const cfg = buildConfig({
      data_dir: join(dir, 'data'),
      admin_network: { interface: 'br0', address: '10.9.8.1/24', domain: 'lab.test' },
      discovery: { image_cache: '' },
      services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { port: 8080 } },
    });
    app = await createAppliance(cfg, { clock, log: memoryLogger() });
    admin = app.initialAdminToken!;
  }, 60_000);
  afterAll(() => {
    app?.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const importPath = (path: string) => app.http.inject({ method: 'POST', url: '/api/v1/os', payload: { path }, headers: { authorization: `Bearer ${admin}` } });

  it('imports a Rocky 9 DVD ISO: .treeinfo names the release, pxeboot kernel/initrd, served under /os/', async () => {
    const src = iso(tree(join(dir, 'rocky'), ROCKY), join(dir, 'Rocky-9.4-x86_64-dvd.iso'), 'Rocky-9-4-x86_64-dvd');
    const r = await importPath(src);
    expect(r.statusCode, r.payload).toBe(201);
    expect(JSON.parse(r.payload)).toMatchObject({ name: 'rocky-9.4-amd64', family: 'rhel', version: '9.4', arch: 'amd64', method: 'installer', kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img', meta: { distribution: 'Rocky Linux' } });
    const k = await app.http.inject({ method: 'GET', url: '/os/rocky-9.4-amd64/images/pxeboot/vmlinuz' });
    expect(k.payload).toBe('rocky kernel\n');
    expect((await app.http.inject({ method: 'GET', url: '/os/rocky-9.4-amd64/BaseOS/repodata/repomd.xml' })).statusCode).toBe(200);
  });

  it('refuses a RHEL boot ISO (no BaseOS/AppStream) with the reason', async () => {
    const files: Record<string, string> = { ...ROCKY };
    delete files['BaseOS/repodata/repomd.xml'];
    delete files['AppStream/repodata/repomd.xml'];
    const r = await importPath(iso(tree(join(dir, 'rocky-boot'), files), join(dir, 'Rocky-9.4-x86_64-boot.iso'), 'Rocky-9-4-boot'));
    expect(r.statusCode).toBe(400);
    expect(JSON.parse(r.payload).message).toMatch(/BaseOS\/repodata is missing: import the DVD ISO/);
  });

  it('imports an Ubuntu 24.04 live-server ISO and keeps the ISO for subiquity; its extracted tree alone is refused', async () => {
    const t = tree(join(dir, 'ubuntu'), {
      '.disk/info': 'Ubuntu-Server 24.04 LTS "Noble Numbat" - Release amd64 (20240423)',
      'casper/vmlinuz': 'ubuntu kernel\n',
      'casper/initrd': 'ubuntu initrd\n',
      'dists/noble/Release': 'Suite: noble\n',
      'boot/grub/grub.cfg': 'menuentry "Try or Install Ubuntu Server" {}\n',
    });
    const src = iso(t, join(dir, 'ubuntu-24.04-live-server-amd64.iso'), 'Ubuntu-Server 24.04 LTS amd64');
    const r = await importPath(src);
    expect(r.statusCode, r.payload).toBe(201);
    expect(JSON.parse(r.payload)).toMatchObject({ name: 'ubuntu-24.04-amd64', family: 'ubuntu', version: '24.04', kernel: 'casper/vmlinuz', initrd: 'casper/initrd', meta: { iso: 'ubuntu-24.04-amd64.iso', codename: 'noble' } });
    const served = await app.http.inject({ method: 'GET', url: '/os/ubuntu-24.04-amd64/ubuntu-24.04-amd64.iso' });
    expect(sha(served.rawPayload)).toBe(sha(readFileSync(src)));
    const dirImport = await importPath(t);
    expect(dirImport.statusCode).toBe(400);
    expect(JSON.parse(dirImport.payload).message).toMatch(/import the live-server ISO itself/);
  });

  it('imports a Debian 12 ISO with the real d-i netboot kernel and initrd beside its packages', async () => {
    const t = tree(join(dir, 'debian'), {
      '.disk/info': 'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST with firmware 20240210-11:27',
      'dists/bookworm/Release': 'Suite: stable\nCodename: bookworm\n',
      'pool/main/b/base-files/base-files_12.4+deb12u5_amd64.deb': 'deb\n',
      'install.amd/vmlinuz': 'cd kernel\n',
      'install.amd/initrd.gz': 'cd initrd\n',
    });
    const r = await importPath(iso(t, join(dir, 'debian-12.5.0-amd64-netinst.iso'), 'Debian 12.5.0 amd64 n'));
    expect(r.statusCode, r.payload).toBe(201);
    expect(JSON.parse(r.payload)).toMatchObject({ name: 'debian-12-amd64', family: 'debian', version: '12', kernel: 'crowbar-netboot/linux', initrd: 'crowbar-netboot/initrd.gz', meta: { codename: 'bookworm' } });
    const k = await app.http.inject({ method: 'GET', url: '/os/debian-12-amd64/crowbar-netboot/linux' });
    expect(sha(k.rawPayload)).toBe(sha(readFileSync(`${NETBOOT}/debian-installer/amd64/linux`)));
    expect((await app.http.inject({ method: 'GET', url: '/os/debian-12-amd64/dists/bookworm/Release' })).payload).toContain('bookworm');
  });

  it('imports the real debian-installer netboot tree as a Debian 12 installer without packages', async () => {
    const r = await importPath(NETBOOT);
    expect(r.statusCode, r.payload).toBe(201);
    expect(JSON.parse(r.payload)).toMatchObject({ name: 'debian-12-amd64', family: 'debian', version: '12', arch: 'amd64', kernel: 'debian-installer/amd64/linux', initrd: 'debian-installer/amd64/initrd.gz', meta: { codename: 'bookworm', repository: false } });
    const i = await app.http.inject({ method: 'GET', url: '/os/debian-12-amd64/debian-installer/amd64/initrd.gz' });
    expect(sha(i.rawPayload)).toBe(sha(readFileSync(`${NETBOOT}/debian-installer/amd64/initrd.gz`)));
  });

  it('names what it looked for when a tree is unknown, and refuses a file that is not an ISO image', async () => {
    const r = await importPath(tree(join(dir, 'junk'), { 'README': 'hello\n' }));
    expect(r.statusCode).toBe(400);
    expect(JSON.parse(r.payload).message).toMatch(/looked for crowbar-os.json, .treeinfo, .disk\/info, version.info/);
    writeFileSync(join(dir, 'bad.iso'), Buffer.alloc(70000, 7));
    const b = await importPath(join(dir, 'bad.iso'));
    expect(b.statusCode).toBe(400);
    expect(JSON.parse(b.payload).message).toMatch(/xorriso could not extract it/);
    expect((await importPath('relative/x.iso')).statusCode).toBe(400);
  });

  it('crowbar os list/import over the API client', async () => {
    await app.http.start();
    try {
      const url = `http://127.0.0.1:${app.http.info.port}`;
      let out = '';
      expect(await osVerb(['--url', url, '--token', admin, 'list'], (s) => (out += s))).toBe(0);
      expect(out).toMatch(/^NAME\s+FAMILY\s+VERSION/);
      expect(out).toContain('rocky-9.4-amd64');
      out = '';
      expect(await osVerb(['--url', url, '--token', admin, 'bogus'], (s) => (out += s))).toBe(2);
    } finally {
      await app.http.stop();
    }
  });
});
