/**
 * A syntax checker for the kickstart we emit (pykickstart is neither in
 * Debian 12 nor reachable here). It knows the commands and options our
 * templates use, with the RHEL 8/9 spelling of each; it checks: every line is
 * a known command with known options (`--opt=value` / `--flag`), options that
 * need a value have one (numbers where Anaconda wants numbers, enums where it
 * has enums), positional arguments per command, sections (%packages, %pre,
 * %post, %pre-install, %onerror, %addon) closed by %end and not nested,
 * commands given twice that Anaconda takes once, and the cross references:
 * raid members are declared `part raid.*`, volgroup PVs are declared,
 * logvol's --vgname names a volgroup, disks named with --ondisk/--drives/
 * --boot-drive are in ignoredisk --only-use. It is not Anaconda: it does not
 * know every command of every release, nor whether sizes fit the disks.
 */
import { shQuote } from './template-lang.js';

type Opt = 'flag' | 'value' | 'int' | readonly string[];

interface Cmd {
  /** Allowed positional argument counts [min, max]. */
  args: [number, number];
  opts: Readonly<Record<string, Opt>>;
  /** May appear more than once. */
  multi?: boolean;
}

const COMMANDS: Readonly<Record<string, Cmd>> = {
  text: { args: [0, 0], opts: { '--non-interactive': 'flag' } },
  graphical: { args: [0, 0], opts: { '--non-interactive': 'flag' } },
  cmdline: { args: [0, 0], opts: {} },
  lang: { args: [1, 1], opts: { '--addsupport': 'value' } },
  keyboard: { args: [0, 1], opts: { '--vckeymap': 'value', '--xlayouts': 'value', '--switch': 'value' } },
  timezone: { args: [1, 1], opts: { '--utc': 'flag', '--isUtc': 'flag', '--nontp': 'flag', '--ntpservers': 'value' } },
  timesource: { args: [0, 0], opts: { '--ntp-server': 'value', '--ntp-pool': 'value', '--ntp-disable': 'flag', '--nts': 'flag' }, multi: true },
  url: { args: [0, 0], opts: { '--url': 'value', '--mirrorlist': 'value', '--metalink': 'value', '--proxy': 'value', '--noverifyssl': 'flag' } },
  repo: { args: [0, 0], opts: { '--name': 'value', '--baseurl': 'value', '--mirrorlist': 'value', '--metalink': 'value', '--cost': 'int', '--excludepkgs': 'value', '--includepkgs': 'value', '--proxy': 'value', '--install': 'flag', '--noverifyssl': 'flag' }, multi: true },
  network: {
    args: [0, 0],
    opts: {
      '--bootproto': ['dhcp', 'bootp', 'ibft', 'static', 'query'],
      '--device': 'value',
      '--ip': 'value',
      '--ipv6': 'value',
      '--netmask': 'value',
      '--gateway': 'value',
      '--nameserver': 'value',
      '--hostname': 'value',
      '--activate': 'flag',
      '--onboot': ['yes', 'no', 'on', 'off'],
      '--noipv6': 'flag',
      '--mtu': 'int',
      '--vlanid': 'int',
    },
    multi: true,
  },
  rootpw: { args: [0, 1], opts: { '--lock': 'flag', '--iscrypted': 'flag', '--plaintext': 'flag', '--allow-ssh': 'flag' } },
  sshkey: { args: [1, 1], opts: { '--username': 'value' }, multi: true },
  selinux: { args: [0, 0], opts: { '--enforcing': 'flag', '--permissive': 'flag', '--disabled': 'flag' } },
  firewall: { args: [0, 0], opts: { '--enabled': 'flag', '--disabled': 'flag', '--ssh': 'flag', '--service': 'value', '--port': 'value' } },
  services: { args: [0, 0], opts: { '--enabled': 'value', '--disabled': 'value' } },
  ignoredisk: { args: [0, 0], opts: { '--only-use': 'value', '--drives': 'value' } },
  zerombr: { args: [0, 0], opts: {} },
  clearpart: { args: [0, 0], opts: { '--all': 'flag', '--linux': 'flag', '--none': 'flag', '--initlabel': 'flag', '--drives': 'value', '--list': 'value', '--disklabel': ['gpt', 'msdos'] } },
  bootloader: { args: [0, 0], opts: { '--location': ['mbr', 'partition', 'none', 'boot'], '--boot-drive': 'value', '--driveorder': 'value', '--append': 'value', '--timeout': 'int', '--iscrypted': 'flag', '--password': 'value' } },
  reqpart: { args: [0, 0], opts: { '--add-boot': 'flag' } },
  autopart: { args: [0, 0], opts: { '--type': ['lvm', 'btrfs', 'plain', 'thinp'], '--fstype': 'value', '--nohome': 'flag', '--noboot': 'flag', '--noswap': 'flag' } },
  part: { args: [1, 1], opts: { '--size': 'int', '--grow': 'flag', '--maxsize': 'int', '--ondisk': 'value', '--ondrive': 'value', '--fstype': 'value', '--asprimary': 'flag', '--label': 'value', '--recommended': 'flag' }, multi: true },
  raid: { args: [1, 64], opts: { '--level': ['0', '1', '4', '5', '6', '10', 'RAID0', 'RAID1', 'RAID4', 'RAID5', 'RAID6', 'RAID10'], '--device': 'value', '--fstype': 'value', '--spares': 'int', '--label': 'value', '--useexisting': 'flag', '--noformat': 'flag' }, multi: true },
  volgroup: { args: [1, 64], opts: { '--pesize': 'int', '--useexisting': 'flag', '--noformat': 'flag' }, multi: true },
  logvol: { args: [1, 1], opts: { '--vgname': 'value', '--name': 'value', '--size': 'int', '--grow': 'flag', '--maxsize': 'int', '--fstype': 'value', '--percent': 'int', '--recommended': 'flag' }, multi: true },
  reboot: { args: [0, 0], opts: { '--eject': 'flag', '--kexec': 'flag' } },
  poweroff: { args: [0, 0], opts: {} },
  shutdown: { args: [0, 0], opts: {} },
  halt: { args: [0, 0], opts: {} },
  skipx: { args: [0, 0], opts: {} },
  firstboot: { args: [0, 0], opts: { '--enable': 'flag', '--disable': 'flag', '--reconfig': 'flag' } },
  eula: { args: [0, 0], opts: { '--agreed': 'flag' } },
};

const SECTIONS = new Set(['%packages', '%pre', '%post', '%pre-install', '%onerror', '%addon', '%traceback']);
const SECTION_OPTS: Readonly<Record<string, ReadonlySet<string>>> = {
  '%packages': new Set(['--ignoremissing', '--nocore', '--excludedocs', '--instLangs', '--inst-langs', '--multilib', '--exclude-weakdeps']),
  '%post': new Set(['--nochroot', '--interpreter', '--log', '--erroronfail']),
  '%pre': new Set(['--interpreter', '--log', '--erroronfail']),
  '%pre-install': new Set(['--interpreter', '--log', '--erroronfail']),
  '%onerror': new Set(['--interpreter', '--log']),
  '%traceback': new Set(['--interpreter', '--log']),
  '%addon': new Set([]),
};

/** Split a kickstart line as pykickstart does (POSIX shell words, `#` comments). */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const j = line.indexOf("'", i + 1);
      if (j < 0) throw new Error('unterminated single quote');
      cur += line.slice(i + 1, j);
      i = j;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        cur += line[j];
      }
      if (j >= line.length) throw new Error('unterminated double quote');
      i = j;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (c === ' ' || c === '\t') {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else if (c === '#' && !has) break;
    else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** Check a kickstart file; returns the problems as `line N: message` (empty when none). */
export function checkKickstart(text: string): string[] {
  const errs: string[] = [];
  const seen = new Set<string>();
  const raidParts = new Set<string>();
  const pvs = new Set<string>();
  const vgs = new Set<string>();
  const diskRefs: Array<[number, string]> = [];
  let onlyUse: Set<string> | null = null;
  const pending: Array<() => void> = [];
  let section: string | null = null;
  let sectionLine = 0;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const n = i + 1;
    const err = (m: string): void => {
      errs.push(`line ${n}: ${m}`);
    };
    const trimmed = raw.trim();
    if (section !== null) {
      if (trimmed === '%end') section = null;
      else if (SECTIONS.has(trimmed.split(/\s+/)[0])) err(`${trimmed.split(/\s+/)[0]} inside ${section} (opened on line ${sectionLine}) without %end`);
      return;
    }
    if (trimmed === '' || trimmed.startsWith('#')) return;
    let words: string[];
    try {
      words = splitWords(trimmed);
    } catch (e) {
      err((e as Error).message);
      return;
    }
    const [cmd, ...rest] = words;
    if (cmd.startsWith('%')) {
      if (cmd === '%end') return err('%end without an open section');
      if (!SECTIONS.has(cmd)) return err(`unknown section ${cmd}`);
      for (const w of rest) {
        const k = w.split('=')[0];
        if (!SECTION_OPTS[cmd].has(k)) err(`unknown option ${k} of ${cmd}`);
      }
      section = cmd;
      sectionLine = n;
      return;
    }
    const spec = COMMANDS[cmd];
    if (!spec) return err(`unknown command ${JSON.stringify(cmd)}`);
    if (!spec.multi && seen.has(cmd)) err(`${cmd} given more than once`);
    seen.add(cmd);
    const args: string[] = [];
    const opts = new Map<string, string | true>();
    for (const w of rest) {
      if (!w.startsWith('--')) {
        args.push(w);
        continue;
      }
      const eq = w.indexOf('=');
      const k = eq < 0 ? w : w.slice(0, eq);
      const v = eq < 0 ? true : w.slice(eq + 1);
      const kind = spec.opts[k];
      if (kind === undefined) {
        err(`unknown option ${k} of ${cmd}`);
        continue;
      }
      if (kind === 'flag' && v !== true) err(`${cmd} ${k} takes no value`);
      if (kind !== 'flag' && (v === true || v === '')) err(`${cmd} ${k} needs a value`);
      if (kind === 'int' && typeof v === 'string' && !/^-?\d+$/.test(v)) err(`${cmd} ${k} must be a whole number, got ${JSON.stringify(v)}`);
      if (Array.isArray(kind) && typeof v === 'string' && !kind.includes(v)) err(`${cmd} ${k} must be one of ${kind.join(', ')}, got ${JSON.stringify(v)}`);
      opts.set(k, v);
    }
    if (args.length < spec.args[0] || args.length > spec.args[1]) err(`${cmd} takes ${spec.args[0] === spec.args[1] ? spec.args[0] : `${spec.args[0]}-${spec.args[1]}`} argument(s), got ${args.length}${args.length ? ` (${args.map(shQuote).join(' ')})` : ''}`);
    const str = (k: string): string | null => {
      const v = opts.get(k);
      return typeof v === 'string' ? v : null;
    };
    switch (cmd) {
      case 'url':
        if (!str('--url') && !str('--mirrorlist') && !str('--metalink')) err('url needs --url, --mirrorlist or --metalink');
        break;
      case 'repo':
        if (!str('--name')) err('repo needs --name');
        if (!str('--baseurl') && !str('--mirrorlist') && !str('--metalink')) err('repo needs --baseurl, --mirrorlist or --metalink');
        break;
      case 'network':
        if (str('--bootproto') === 'static' && (!str('--ip') || !str('--netmask'))) err('network --bootproto=static needs --ip and --netmask');
        break;
      case 'rootpw':
        if (!opts.has('--lock') && args.length === 0) err('rootpw needs a password or --lock');
        break;
      case 'ignoredisk':
        if (str('--only-use')) onlyUse = new Set(str('--only-use')!.split(','));
        break;
      case 'clearpart':
        for (const d of (str('--drives') ?? '').split(',').filter(Boolean)) diskRefs.push([n, d]);
        break;
      case 'bootloader':
        if (str('--boot-drive')) diskRefs.push([n, str('--boot-drive')!]);
        break;
      case 'part':
        if (str('--ondisk')) diskRefs.push([n, str('--ondisk')!]);
        if (args[0]?.startsWith('raid.')) raidParts.add(args[0]);
        if (args[0]?.startsWith('pv.')) pvs.add(args[0]);
        if (!opts.has('--size') && !opts.has('--recommended') && args[0] !== 'biosboot') err('part needs --size (or --recommended)');
        break;
      case 'raid': {
        const [mnt, ...members] = args;
        if (!opts.has('--level')) err('raid needs --level');
        if (!str('--device')) err('raid needs --device');
        if (members.length < 2) err(`raid ${mnt ?? ''} needs at least two members`);
        if (mnt?.startsWith('pv.')) pvs.add(mnt);
        pending.push(() => {
          for (const m of members) if (!raidParts.has(m)) errs.push(`line ${n}: raid member ${m} is not declared by a part raid.* line`);
        });
        break;
      }
      case 'volgroup': {
        const [vg, ...members] = args;
        vgs.add(vg);
        if (members.length === 0) err(`volgroup ${vg} needs at least one physical volume`);
        pending.push(() => {
          for (const m of members) if (!pvs.has(m)) errs.push(`line ${n}: volgroup member ${m} is not declared by part/raid pv.*`);
        });
        break;
      }
      case 'logvol':
        if (!str('--vgname') || !str('--name')) err('logvol needs --vgname and --name');
        pending.push(() => {
          if (str('--vgname') && !vgs.has(str('--vgname')!)) errs.push(`line ${n}: logvol --vgname=${str('--vgname')} names no volgroup`);
        });
        break;
      default:
        break;
    }
  });
  if (section !== null) errs.push(`line ${sectionLine}: ${section} is not closed by %end`);
  for (const f of pending) f();
  const only = onlyUse as Set<string> | null;
  if (only) for (const [n, d] of diskRefs) if (!only.has(d)) errs.push(`line ${n}: disk ${d} is not in ignoredisk --only-use`);
  if (!seen.has('lang')) errs.push('lang is required');
  if (!seen.has('rootpw')) errs.push('rootpw is required for an unattended install (use rootpw --lock)');
  if (!seen.has('url') && !seen.has('repo')) errs.push('no installation source (url)');
  return errs;
}
