/**
 * Validation of subiquity autoinstall user-data, written from subiquity's
 * published autoinstall JSON schema (canonical/subiquity,
 * autoinstall-schema.json) plus its documented runtime rule: the file starts
 * with `#cloud-config` and holds an `autoinstall` mapping; `version` is the
 * integer 1; command lists are strings or lists of strings; `keyboard` needs
 * `layout`; `network` is netplan version 2 (bare or under `network:`) whose
 * `match` blocks only use name/macaddress/driver; `identity` has exactly
 * realname/username/hostname/password with the last three required; one of
 * `identity` or `user-data` is present; the types of apt, ssh, snaps, proxy,
 * packages, refresh-installer, kernel, updates, storage. The timezone is
 * checked as `''`, `geoip` or an Area/Location name, not against the
 * schema's full zone list. Storage actions are not validated (curtin's
 * schema is not part of it).
 */
import { parse } from 'yaml';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkCommands(v: unknown, key: string, errs: string[]): void {
  if (!Array.isArray(v)) return void errs.push(`autoinstall.${key}: must be a list`);
  v.forEach((c, i) => {
    if (typeof c === 'string') return;
    if (Array.isArray(c) && c.every((x) => typeof x === 'string')) return;
    errs.push(`autoinstall.${key}[${i}]: must be a string or a list of strings`);
  });
}

function checkNetplan(v: unknown, path: string, errs: string[]): void {
  if (!isObj(v)) return void errs.push(`${path}: must be a mapping`);
  if (v.version !== 2) errs.push(`${path}.version: must be the integer 2`);
  for (const kind of ['ethernets', 'wifis']) {
    const devs = v[kind];
    if (devs === undefined) continue;
    if (!isObj(devs)) {
      errs.push(`${path}.${kind}: must be a mapping`);
      continue;
    }
    for (const [name, dev] of Object.entries(devs)) {
      if (!isObj(dev)) {
        errs.push(`${path}.${kind}.${name}: must be a mapping`);
        continue;
      }
      const match = dev.match;
      if (match === undefined) continue;
      if (!isObj(match)) errs.push(`${path}.${kind}.${name}.match: must be a mapping`);
      else for (const [k, x] of Object.entries(match)) {
        if (!['name', 'macaddress', 'driver'].includes(k)) errs.push(`${path}.${kind}.${name}.match.${k}: not allowed`);
        else if (typeof x !== 'string') errs.push(`${path}.${kind}.${name}.match.${k}: must be a string`);
      }
    }
  }
  for (const kind of ['bridges', 'bonds', 'tunnels', 'vlans']) if (v[kind] !== undefined && !isObj(v[kind])) errs.push(`${path}.${kind}: must be a mapping`);
}

function type(v: unknown, want: 'string' | 'boolean' | 'object' | 'array', path: string, errs: string[]): void {
  const ok = want === 'object' ? isObj(v) : want === 'array' ? Array.isArray(v) : typeof v === want;
  if (!ok) errs.push(`${path}: must be ${want === 'object' ? 'a mapping' : want === 'array' ? 'a list' : `a ${want}`}`);
}

/** Validate autoinstall user-data text; returns the problems (empty when none). */
export function checkAutoinstall(text: string): string[] {
  const errs: string[] = [];
  if (!text.startsWith('#cloud-config\n')) errs.push('user-data must start with a "#cloud-config" line');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return [...errs, `not YAML: ${(e as Error).message}`];
  }
  if (!isObj(doc) || !isObj(doc.autoinstall)) return [...errs, 'no autoinstall mapping'];
  const a = doc.autoinstall;
  if (a.version !== 1) errs.push('autoinstall.version: must be the integer 1');
  for (const k of ['early-commands', 'late-commands', 'error-commands']) if (a[k] !== undefined) checkCommands(a[k], k, errs);
  if (a['user-data'] !== undefined) type(a['user-data'], 'object', 'autoinstall.user-data', errs);
  if (a.packages !== undefined) {
    if (!Array.isArray(a.packages) || !a.packages.every((p) => typeof p === 'string')) errs.push('autoinstall.packages: must be a list of strings');
  }
  for (const k of ['debconf-selections', 'locale']) if (a[k] !== undefined) type(a[k], 'string', `autoinstall.${k}`, errs);
  if (a['refresh-installer'] !== undefined) {
    const r = a['refresh-installer'];
    if (!isObj(r)) errs.push('autoinstall.refresh-installer: must be a mapping');
    else for (const [k, v] of Object.entries(r)) {
      if (k === 'update') type(v, 'boolean', 'autoinstall.refresh-installer.update', errs);
      else if (k === 'channel') type(v, 'string', 'autoinstall.refresh-installer.channel', errs);
      else errs.push(`autoinstall.refresh-installer.${k}: not allowed`);
    }
  }
  if (a.kernel !== undefined) {
    const k = a.kernel;
    if (!isObj(k)) errs.push('autoinstall.kernel: must be a mapping');
    else if ((typeof k.package === 'string') === (typeof k.flavor === 'string')) errs.push('autoinstall.kernel: needs exactly one of package or flavor');
  }
  if (a.keyboard !== undefined) {
    const k = a.keyboard;
    if (!isObj(k)) errs.push('autoinstall.keyboard: must be a mapping');
    else {
      if (typeof k.layout !== 'string') errs.push('autoinstall.keyboard.layout: required string');
      for (const [kk, v] of Object.entries(k)) {
        if (!['layout', 'variant', 'toggle'].includes(kk)) errs.push(`autoinstall.keyboard.${kk}: not allowed`);
        else if (kk === 'variant') type(v, 'string', 'autoinstall.keyboard.variant', errs);
        else if (kk === 'toggle' && v !== null) type(v, 'string', 'autoinstall.keyboard.toggle', errs);
      }
    }
  }
  if (a.network !== undefined) {
    const n = a.network;
    if (isObj(n) && n.version === undefined && n.network !== undefined) checkNetplan(n.network, 'autoinstall.network.network', errs);
    else checkNetplan(n, 'autoinstall.network', errs);
  }
  if (a.proxy !== undefined && a.proxy !== null) {
    if (typeof a.proxy !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(a.proxy)) errs.push('autoinstall.proxy: must be a URI or null');
  }
  if (a.apt !== undefined) {
    const p = a.apt;
    if (!isObj(p)) errs.push('autoinstall.apt: must be a mapping');
    else {
      if (p.preserve_sources_list !== undefined) type(p.preserve_sources_list, 'boolean', 'autoinstall.apt.preserve_sources_list', errs);
      if (p.geoip !== undefined) type(p.geoip, 'boolean', 'autoinstall.apt.geoip', errs);
      if (p.primary !== undefined) type(p.primary, 'array', 'autoinstall.apt.primary', errs);
      if (p.sources !== undefined) type(p.sources, 'object', 'autoinstall.apt.sources', errs);
    }
  }
  if (a.storage !== undefined) type(a.storage, 'object', 'autoinstall.storage', errs);
  if (a.identity !== undefined) {
    const id = a.identity;
    if (!isObj(id)) errs.push('autoinstall.identity: must be a mapping');
    else {
      for (const k of ['username', 'hostname', 'password']) if (typeof id[k] !== 'string') errs.push(`autoinstall.identity.${k}: required string`);
      for (const [k, v] of Object.entries(id)) {
        if (!['realname', 'username', 'hostname', 'password'].includes(k)) errs.push(`autoinstall.identity.${k}: not allowed`);
        else if (typeof v !== 'string') errs.push(`autoinstall.identity.${k}: must be a string`);
      }
    }
  }
  if (a.identity === undefined && a['user-data'] === undefined) errs.push('autoinstall: needs identity or user-data');
  if (a.ssh !== undefined) {
    const s = a.ssh;
    if (!isObj(s)) errs.push('autoinstall.ssh: must be a mapping');
    else {
      if (s['install-server'] !== undefined) type(s['install-server'], 'boolean', 'autoinstall.ssh.install-server', errs);
      if (s['allow-pw'] !== undefined) type(s['allow-pw'], 'boolean', 'autoinstall.ssh.allow-pw', errs);
      const keys = s['authorized-keys'];
      if (keys !== undefined && (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))) errs.push('autoinstall.ssh.authorized-keys: must be a list of strings');
    }
  }
  if (a.snaps !== undefined) {
    if (!Array.isArray(a.snaps)) errs.push('autoinstall.snaps: must be a list');
    else a.snaps.forEach((s, i) => {
      if (!isObj(s) || typeof s.name !== 'string') errs.push(`autoinstall.snaps[${i}]: needs a name`);
      else for (const k of Object.keys(s)) if (!['name', 'channel', 'classic'].includes(k)) errs.push(`autoinstall.snaps[${i}].${k}: not allowed`);
    });
  }
  if (a.timezone !== undefined && (typeof a.timezone !== 'string' || !/^(|geoip|UTC|[A-Z][A-Za-z_-]+(\/[A-Z0-9][A-Za-z0-9_+-]+){1,2})$/.test(a.timezone))) errs.push(`autoinstall.timezone: ${JSON.stringify(a.timezone)} is not a zone name`);
  if (a.updates !== undefined && a.updates !== 'security' && a.updates !== 'all') errs.push('autoinstall.updates: must be security or all');
  return errs;
}
