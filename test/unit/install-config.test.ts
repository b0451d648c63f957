import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkAutoinstall } from '../../src/boot/autoinstall-check.js';
import { diskPlan, renderInstallConfig, repoUrl, type InstallFacts } from '../../src/boot/install-config.js';
import { InstallTemplateStore, lookupTemplate, purposeFor, type InstallPurpose } from '../../src/boot/install-templates.js';
import { checkKickstart } from '../../src/boot/kickstart-check.js';
import { checkPreseed } from '../../src/boot/preseed-check.js';
import { renderInstallTemplate } from '../../src/boot/template-lang.js';
import type { Node } from '../../src/model/node.js';
import type { OsFamily, OsMedia } from '../../src/model/os.js';

const TEMPLATES = resolve(import.meta.dirname, '../../barclamps/provisioner/templates');
const GOLDEN = resolve(import.meta.dirname, '../fixtures/install');
const UPDATE = process.env.CROWBAR_UPDATE_GOLDEN === '1';
const tmp = mkdtempSync(join(tmpdir(), 'crowbar-install-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function node(disks: string[]): Node {
  return {
    id: 7,
    name: 'd52-54-00-12-34-56.crowbar.test',
    macs: ['52:54:00:12:34:56'],
    state: 'hardware-installed',
    problem_reason: null,
    allocated: true,
    inventory: { disks: disks.map((name) => ({ name, size_bytes: 64e9 })), firmware: 'uefi' },
    bmc_address: null,
    bmc_user: null,
  } as unknown as Node;
}

function media(family: OsFamily, version: string, name: string): OsMedia {
  return { name, family, version, arch: 'amd64', method: 'installer', dir: `/var/lib/crowbar/os/${name}`, kernel: 'k', initrd: 'i', image: null, meta: {}, imported_at: 1 };
}

function facts(m: OsMedia, raid: boolean, keys: string[] = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps0perator ops@example']): InstallFacts {
  return {
    node: node(['vda', 'vdb', 'vdc']),
    media: m,
    domain: 'crowbar.test',
    admin: { address: '192.168.124.81', netmask: '255.255.255.0', prefix: 24, gateway: raid ? '192.168.124.1' : null },
    applianceUrl: 'http://192.168.124.10',
    applianceAddress: '192.168.124.10',
    dnsServers: ['192.168.124.10'],
    ntpServers: ['192.168.124.10'],
    disks: diskPlan(node(['vda', 'vdb', 'vdc']).inventory.disks, raid ? { level: '1', disks: ['/dev/sda', '/dev/sdb'] } : null),
    timezone: raid ? 'Europe/Berlin' : 'UTC',
    sshKeys: keys,
    mirror: null,
    installBase: 'http://192.168.124.10/install/cbi_TESTTOKEN0123456789abcdefABCDEF',
  };
}

/** Every shipped template x a representative node (and both disk layouts where the template branches on them). */
const CASES: Array<{ golden: string; purpose: InstallPurpose; f: InstallFacts }> = [
  { golden: 'kickstart.rocky-9.raid1', purpose: 'kickstart', f: facts(media('rhel', '9.4', 'rocky-9.4-amd64'), true) },
  { golden: 'kickstart.alma-8.single', purpose: 'kickstart', f: facts(media('rhel', '8.10', 'alma-8.10-amd64'), false, []) },
  { golden: 'preseed.debian-12.single', purpose: 'preseed', f: facts(media('debian', '12', 'debian-12-amd64'), false) },
  { golden: 'preseed.debian-12.raid1', purpose: 'preseed', f: facts(media('debian', '12', 'debian-12-amd64'), true) },
  { golden: 'autoinstall.ubuntu-24.04.raid1', purpose: 'autoinstall', f: facts(media('ubuntu', '24.04', 'ubuntu-24.04-amd64'), true) },
  { golden: 'autoinstall.ubuntu-22.04.single', purpose: 'autoinstall', f: facts(media('ubuntu', '22.04', 'ubuntu-22.04-amd64'), false, []) },
  { golden: 'post-install.debian-12', purpose: 'post-install', f: facts(media('debian', '12', 'debian-12-amd64'), false) },
];

function render(c: (typeof CASES)[number]): string {
  const store = new InstallTemplateStore(TEMPLATES);
  const t = store.load(c.purpose, c.f.media);
  return renderInstallConfig(t.text, t.name, c.f, c.purpose);
}

function validate(purpose: InstallPurpose, text: string): string[] {
  if (purpose === 'kickstart') return checkKickstart(text);
  if (purpose === 'preseed') return checkPreseed(text);
  if (purpose === 'autoinstall') return checkAutoinstall(text);
  return [];
}

describe('install templates: lookup', () => {
  it('picks the most specific name and names every candidate on a miss', () => {
    const t = { family: 'ubuntu' as const, version: '24.04', arch: 'amd64' };
    expect(lookupTemplate(['autoinstall.tpl', 'autoinstall.ubuntu.tpl', 'autoinstall.ubuntu-24.04.amd64.tpl'], 'autoinstall', t)).toBe('autoinstall.ubuntu-24.04.amd64.tpl');
    expect(lookupTemplate(['autoinstall.tpl', 'autoinstall.ubuntu.tpl', 'autoinstall.ubuntu-22.04.tpl'], 'autoinstall', t)).toBe('autoinstall.ubuntu.tpl');
    expect(lookupTemplate(['autoinstall.tpl', 'autoinstall.ubuntu.arm64.tpl'], 'autoinstall', t)).toBe('autoinstall.tpl');
    expect(() => lookupTemplate(['kickstart.rhel.tpl'], 'autoinstall', t)).toThrow(
      'no autoinstall template for ubuntu-24.04 (amd64): looked for autoinstall.ubuntu-24.04.amd64.tpl, autoinstall.ubuntu-24.04.tpl, autoinstall.ubuntu.amd64.tpl, autoinstall.ubuntu.tpl, autoinstall.tpl',
    );
  });

  it('chooses the install format per OS: kickstart for RHEL, autoinstall for Ubuntu 20.04+, preseed otherwise', () => {
    expect(purposeFor('rhel', '9.4')).toBe('kickstart');
    expect(purposeFor('ubuntu', '24.04')).toBe('autoinstall');
    expect(purposeFor('ubuntu', '18.04')).toBe('preseed');
    expect(purposeFor('debian', '12')).toBe('preseed');
  });

  it('plans RAID 1 across the first two disks only when raid says level 1 and there are two disks', () => {
    expect(diskPlan([{ name: 'sda' }, { name: 'sdb' }, { name: 'sdc' }], { level: '1', disks: [] })).toEqual({ layout: 'raid1', disks: ['sda', 'sdb'] });
    expect(diskPlan([{ name: 'sda' }], { level: '1', disks: [] })).toEqual({ layout: 'single', disks: ['sda'] });
    expect(diskPlan([{ name: 'nvme0n1' }, { name: 'nvme1n1' }], { level: '5', disks: [] })).toEqual({ layout: 'single', disks: ['nvme0n1'] });
    // the raid settings' own disks when the inventory has them
    expect(diskPlan([{ name: 'vda' }, { name: 'vdb' }, { name: 'vdc' }], { level: '1', disks: ['/dev/vdc', '/dev/vdb'] })).toEqual({ layout: 'raid1', disks: ['vdc', 'vdb'] });
    expect(diskPlan([{ name: 'vda' }, { name: 'vdb' }], { level: '1', disks: ['/dev/sda', '/dev/sdb'] })).toEqual({ layout: 'raid1', disks: ['vda', 'vdb'] });
    // no inventory: the raid settings' disks
    expect(diskPlan(undefined, { level: '1', disks: ['/dev/sdb', '/dev/sdc'] })).toEqual({ layout: 'raid1', disks: ['sdb', 'sdc'] });
    // controller drives: the controller's volume is the one disk the OS sees
    expect(diskPlan([{ name: 'sda' }, { name: 'sdb' }], { level: '1', disks: ['252:0', '252:1'] })).toEqual({ layout: 'single', disks: ['sda'] });
    expect(diskPlan([{ name: 'sda' }, { name: 'sdb' }], { level: '1', disks: ['1I:1:1', '1I:1:2'] })).toEqual({ layout: 'single', disks: ['sda'] });
    expect(diskPlan(undefined, { level: '1', disks: ['/dev/sdc', '/dev/sdd'] })).toEqual({ layout: 'raid1', disks: ['sdc', 'sdd'] });
    expect(diskPlan([], null)).toEqual({ layout: 'single', disks: ['sda'] });
  });
});

describe('package repository', () => {
  it('uses the medium tree, or the provisioner mirror, and refuses a netboot-only medium without a mirror', () => {
    const m = media('debian', '12', 'debian-12-amd64');
    expect(repoUrl({ media: m, mirror: null, applianceUrl: 'http://10.0.0.1' }).href).toBe('http://10.0.0.1/os/debian-12-amd64/');
    expect(repoUrl({ media: m, mirror: 'http://mirror.lab/debian', applianceUrl: 'http://10.0.0.1' }).href).toBe('http://mirror.lab/debian/');
    const nb = { ...m, meta: { repository: false } };
    expect(() => repoUrl({ media: nb, mirror: null, applianceUrl: 'http://10.0.0.1' })).toThrow("debian-12-amd64 carries no packages (an installer netboot tree): set the provisioner's mirror");
    expect(() => repoUrl({ media: nb, mirror: 'ftp://x/y', applianceUrl: 'http://10.0.0.1' })).toThrow(/plain http/);
  });
});

describe('template language', () => {
  it('escapes per format, loops, branches, and refuses missing values and injected lines', () => {
    const ctx = { a: 'x y', list: ['p', 'q'], objs: [{ n: 'one' }, { n: 'two' }], t: true, e: [] as string[] };
    expect(renderInstallTemplate('{{a}}|{{a|sh}}|{{a|q}}|{{list|join:,}}\n{{#each objs as o}}{{o.n}}{{#unless o_last}},{{/unless}}{{/each}}\n{{#if e}}no{{else}}yes{{/if}}', ctx, 'line')).toBe(`x y|'x y'|"x y"|p,q\none,two\nyes`);
    expect(renderInstallTemplate('k: {{a}}\n', ctx, 'yaml')).toBe('k: "x y"\n');
    expect(renderInstallTemplate('{{#if t}}\nA\n{{/if}}\nB\n', ctx, 'line')).toBe('A\nB\n');
    expect(() => renderInstallTemplate('{{b}}', ctx, 'line', 'x.tpl')).toThrow('x.tpl: no value for {{b}}');
    expect(() => renderInstallTemplate('{{a}}', { a: 'ok\nd-i preseed/late_command string reboot' }, 'line', 'p.tpl')).toThrow('not a printable single line');
    expect(renderInstallTemplate('{{a}}', { a: "it's\nx" }, 'yaml')).toBe('"it\'s\\nx"');
    expect(() => renderInstallTemplate('{{#if a}}x', ctx, 'line', 'u.tpl')).toThrow('unclosed');
    expect(() => renderInstallTemplate('{{a|exec}}', ctx, 'line')).toThrow('unknown filter');
  });
});

describe('install configs: golden files and validators', () => {
  for (const c of CASES) {
    it(`${c.golden} matches its golden file and passes its validator`, () => {
      const out = render(c);
      const file = join(GOLDEN, `${c.golden}.golden`);
      if (UPDATE || !existsSync(file)) {
        if (!UPDATE) throw new Error(`${file} is missing: run with CROWBAR_UPDATE_GOLDEN=1 to create it`);
        writeFileSync(file, out);
      }
      expect(out).toBe(readFileSync(file, 'utf8'));
      expect(validate(c.purpose, out)).toEqual([]);
      expect(out).not.toMatch(/\{\{|\}\}/);
    });
  }

  it('every shipped template has a golden case', () => {
    const used = new Set(CASES.map((c) => new InstallTemplateStore(TEMPLATES).load(c.purpose, c.f.media).name));
    expect(new InstallTemplateStore(TEMPLATES).names().sort()).toEqual([...used].sort());
  });

  it('debconf-set-selections --checkonly accepts every rendered preseed', () => {
    for (const c of CASES.filter((x) => x.purpose === 'preseed')) {
      const f = join(tmp, `${c.golden}.cfg`);
      writeFileSync(f, render(c));
      expect(() => execFileSync('debconf-set-selections', ['--checkonly', f], { stdio: 'pipe' })).not.toThrow();
    }
    const bad = join(tmp, 'bad.cfg');
    writeFileSync(bad, 'd-i netcfg/get_hostname\n');
    expect(() => execFileSync('debconf-set-selections', ['--checkonly', bad], { stdio: 'pipe' })).toThrow();
  });

  it.runIf(existsSync('/usr/bin/cloud-init'))('cloud-init schema accepts the #cloud-config wrapper of every rendered autoinstall', () => {
    for (const c of CASES.filter((x) => x.purpose === 'autoinstall')) {
      const f = join(tmp, `${c.golden}.yaml`);
      writeFileSync(f, render(c));
      execFileSync('cloud-init', ['schema', '--config-file', f], { stdio: 'pipe' });
    }
  });

  it('the validators catch what they claim to', () => {
    const ks = render(CASES[0]);
    expect(checkKickstart(ks.replace('%end\n', ''))).toEqual(expect.arrayContaining([expect.stringMatching(/not closed by %end|inside %packages/)]));
    expect(checkKickstart(ks.replace('--bootproto=static', '--bootproto=magic'))).toEqual([expect.stringMatching(/--bootproto must be one of/)]);
    expect(checkKickstart(ks.replace('part raid.12', 'part raid.99'))).toEqual([expect.stringMatching(/raid member raid.12 is not declared/)]);
    expect(checkKickstart(ks.replace('--ondisk=vdb', '--ondisk=vdz'))).toEqual([expect.stringMatching(/disk vdz is not in ignoredisk/)]);
    expect(checkKickstart(ks + 'autopartt\n')).toEqual([expect.stringMatching(/unknown command "autopartt"/)]);
    expect(checkKickstart(ks.replace('logvol / --vgname=vg0', 'logvol / --vgname=vg1'))).toEqual([expect.stringMatching(/names no volgroup/)]);
    const ps = render(CASES[2]);
    expect(checkPreseed(ps + 'd-i time/zone string UTC\n')).toEqual([expect.stringMatching(/already answered/)]);
    expect(checkPreseed(ps.replace('passwd/make-user boolean false', 'passwd/make-user boolean nope'))).toEqual([expect.stringMatching(/is boolean/)]);
    const ai = render(CASES[4]);
    expect(checkAutoinstall(ai.replace('  version: 1\n', '  version: 2\n'))).toEqual(['autoinstall.version: must be the integer 1']);
    expect(checkAutoinstall(ai.replace('#cloud-config\n', ''))).toEqual(['user-data must start with a "#cloud-config" line']);
    expect(checkAutoinstall(ai.replace('    layout: us\n', '    layuot: us\n'))).toEqual(['autoinstall.keyboard.layout: required string', 'autoinstall.keyboard.layuot: not allowed']);
    expect(checkAutoinstall(ai.replace('          macaddress:', '          mac:'))).toEqual(['autoinstall.network.ethernets.admin.match.mac: not allowed']);
  });
});
