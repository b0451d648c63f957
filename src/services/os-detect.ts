/**
 * Recognising an OS installer tree (an extracted ISO or a directory) and
 * writing its `crowbar-os.json` manifest:
 *
 *   RHEL family (Rocky, Alma, RHEL, CentOS Stream) DVD   `.treeinfo` ([general]/[release], [images-<arch>] kernel/initrd), BaseOS/ + AppStream/
 *   Ubuntu live-server (20.04+)                        `.disk/info` "Ubuntu-Server 24.04 ..." + casper/vmlinuz, casper/initrd; the ISO itself is kept (subiquity's url=)
 *   Debian (and Ubuntu legacy) installer ISO           `.disk/info` "Debian GNU/Linux 12.5.0 ..." + dists/; the netboot kernel/initrd come from a d-i netboot tree
 *   debian-installer netboot tree                      `version.info` + debian-installer/<arch>/{linux,initrd.gz} (no packages: needs the provisioner's mirror)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CrowbarError } from '../lib/errors.js';
import type { OsManifest } from './os-import.js';

const DEB_ARCH: Readonly<Record<string, string>> = { x86_64: 'amd64', aarch64: 'arm64', amd64: 'amd64', arm64: 'arm64' };

/** Parse an INI file (`.treeinfo`) into sections of keys. */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let cur: Record<string, string> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      cur = out[sec[1]] ??= {};
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (kv && cur) cur[kv[1]] = kv[2];
  }
  return out;
}

/** What a tree is, before the importer names the files it keeps. */
export interface Detected {
  manifest: OsManifest;
  /** Ubuntu live-server: the ISO must be kept in the medium as `manifest.iso`. */
  needsIso: boolean;
  /** Debian ISO: kernel and initrd must come from a d-i netboot tree. */
  needsNetboot: boolean;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function treeinfo(dir: string): Detected {
  const ini = parseIni(readFileSync(join(dir, '.treeinfo'), 'utf8'));
  const rel = ini.release ?? {};
  const gen = ini.general ?? {};
  const short = rel.short ?? gen.family ?? rel.name ?? '';
  const version = rel.version ?? gen.version ?? '';
  const arch = ini.tree?.arch ?? gen.arch ?? '';
  const deb = DEB_ARCH[arch];
  if (!short || !/^\d+(\.\d+)*$/.test(version) || !deb) throw new CrowbarError('bad_request', `.treeinfo: cannot tell the release (short/family ${JSON.stringify(short)}, version ${JSON.stringify(version)}, arch ${JSON.stringify(arch)})`);
  const images = ini[`images-${arch}`] ?? {};
  const kernel = images.kernel ?? 'images/pxeboot/vmlinuz';
  const initrd = images.initrd ?? 'images/pxeboot/initrd.img';
  for (const f of [kernel, initrd]) if (!isFile(join(dir, f))) throw new CrowbarError('bad_request', `.treeinfo names ${f}, which is not in the tree`);
  for (const repo of ['BaseOS', 'AppStream']) if (!existsSync(join(dir, repo, 'repodata'))) throw new CrowbarError('bad_request', `${repo}/repodata is missing: import the DVD ISO (BaseOS and AppStream repositories), not the boot ISO`);
  const name = `${slug(short.split(/\s+/)[0])}-${version}-${deb}`;
  return { manifest: { name, family: 'rhel', version, arch: deb, method: 'installer', kernel, initrd, distribution: rel.name ?? gen.name ?? short }, needsIso: false, needsNetboot: false };
}

function diskInfo(dir: string): Detected {
  const info = readFileSync(join(dir, '.disk', 'info'), 'utf8').trim();
  const m = /^(Ubuntu(?:-Server)?|Debian GNU\/Linux)\s+(\d+(?:\.\d+)*)(?:\s+LTS)?\s+"([^"]+)".*?\b(amd64|arm64)\b/.exec(info);
  if (!m) throw new CrowbarError('bad_request', `.disk/info ${JSON.stringify(info.slice(0, 80))} is not a Debian or Ubuntu release we know`);
  const [, distro, full, codeName, arch] = m;
  const codename = codeName.split(/\s+/)[0].toLowerCase();
  if (distro.startsWith('Ubuntu')) {
    const version = full.split('.').slice(0, 2).join('.');
    if (existsSync(join(dir, 'casper'))) {
      const kernel = ['casper/vmlinuz', 'casper/hwe-vmlinuz'].find((f) => isFile(join(dir, f)));
      const initrd = ['casper/initrd', 'casper/initrd.gz', 'casper/hwe-initrd'].find((f) => isFile(join(dir, f)));
      if (!kernel || !initrd) throw new CrowbarError('bad_request', 'casper/ has no vmlinuz and initrd');
      return { manifest: { name: `ubuntu-${version}-${arch}`, family: 'ubuntu', version, arch, method: 'installer', kernel, initrd, codename, distribution: info }, needsIso: true, needsNetboot: false };
    }
    if (!existsSync(join(dir, 'dists'))) throw new CrowbarError('bad_request', 'an Ubuntu tree needs casper/ (live-server) or dists/ (legacy installer)');
    return { manifest: { name: `ubuntu-${version}-${arch}`, family: 'ubuntu', version, arch, method: 'installer', codename, distribution: info }, needsIso: false, needsNetboot: true };
  }
  if (!existsSync(join(dir, 'dists', codename))) throw new CrowbarError('bad_request', `a Debian installer tree needs dists/${codename}/ (the packages the installer installs)`);
  const version = full.split('.')[0];
  return { manifest: { name: `debian-${version}-${arch}`, family: 'debian', version, arch, method: 'installer', codename, distribution: info }, needsIso: false, needsNetboot: true };
}

function netbootTree(dir: string): Detected {
  const info = readFileSync(join(dir, 'version.info'), 'utf8');
  const m = /Debian version:\s*(\d+)\s*\((\w+)\)/.exec(info);
  if (!m) throw new CrowbarError('bad_request', 'version.info does not name a Debian version');
  const arch = readdirSync(join(dir, 'debian-installer')).find((a) => isFile(join(dir, 'debian-installer', a, 'linux')) && isFile(join(dir, 'debian-installer', a, 'initrd.gz')));
  if (!arch || !DEB_ARCH[arch]) throw new CrowbarError('bad_request', 'debian-installer/<arch>/ has no linux and initrd.gz');
  const build = /Installer build:\s*(\S+)/.exec(info)?.[1];
  return {
    manifest: { name: `debian-${m[1]}-${arch}`, family: 'debian', version: m[1], arch, method: 'installer', kernel: `debian-installer/${arch}/linux`, initrd: `debian-installer/${arch}/initrd.gz`, codename: m[2], repository: false, ...(build ? { installer_build: build } : {}) },
    needsIso: false,
    needsNetboot: false,
  };
}

/** Recognise the tree at `dir`; throws bad_request naming what was looked for. */
export function detectTree(dir: string): Detected {
  if (isFile(join(dir, '.treeinfo'))) return treeinfo(dir);
  if (isFile(join(dir, '.disk', 'info'))) return diskInfo(dir);
  if (isFile(join(dir, 'version.info')) && existsSync(join(dir, 'debian-installer'))) return netbootTree(dir);
  throw new CrowbarError('bad_request', `${dir}: not an OS tree we know (looked for crowbar-os.json, .treeinfo, .disk/info, version.info + debian-installer/)`);
}
