/**
 * Helpers for lab tests: drive the project's lab scripts (lab/*.sh) for one
 * uniquely named lab (its own namespaces `cblab-<name>` / `cblab-<name>-b`,
 * its own random 10.x.y.0/24), talk to the appliance inside the namespace with
 * curl, and watch VM serial logs for boot phases.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Repository root. */
export const ROOT = resolve(import.meta.dirname, '..', '..');

/** True when a lab can run here: root, qemu, ipmi_sim, ipmitool, radvd optional. */
export function labPossible(): { ok: boolean; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root' };
  for (const c of ['qemu-system-x86_64', 'qemu-img', 'ipmi_sim', 'ipmitool', 'curl', 'ip', 'dpkg-deb']) {
    try {
      execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' });
    } catch {
      return { ok: false, why: `${c} missing` };
    }
  }
  if (!existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd')) return { ok: false, why: 'ovmf missing' };
  return { ok: true, why: '' };
}

/** One lab instance. */
export interface Lab {
  name: string;
  net: string;
  ns: string;
  state: string;
  env: NodeJS.ProcessEnv;
  /** Run lab/<script> with arguments; returns stdout. */
  run(script: string, args?: string[], timeoutMs?: number): string;
  /** HTTP request from inside the lab namespace. */
  curl(method: string, path: string, o?: { token?: string; body?: string; contentType?: string }): { status: number; body: any };
  /** The admin API token of the lab appliance. */
  token(): string;
  /** Bring the lab up (namespaces and bridge, router advertisements, the appliance); returns the admin token. */
  start(): string;
  /** Tear everything down (idempotent). */
  down(): void;
  /** Print the last `lines` lines of the appliance log (for a failed run), then tear down. */
  teardown(lines?: number): void;
}

/** Build (or find up to date) the discovery image, in build cache `cache` when given (images/build-discovery.sh). */
export function buildDiscoveryImage(cache?: string, timeoutMs = 600_000): void {
  execFileSync('bash', [join(ROOT, 'images', 'build-discovery.sh'), ...(cache ? ['--cache', cache] : [])], { stdio: ['ignore', 'ignore', 'inherit'], timeout: timeoutMs });
}

/** Create the lab settings (nothing is started); `extraEnv` goes to every lab script (e.g. CBLAB_SIM). */
export function newLab(extraEnv: Record<string, string> = {}): Lab {
  const id = randomBytes(3).toString('hex');
  const name = `t${id}`;
  const net = `10.${150 + (parseInt(id.slice(0, 2), 16) % 90)}.${parseInt(id.slice(2, 4), 16)}`;
  const state = `/var/tmp/cblab/${name}`;
  const env = { ...process.env, ...extraEnv, CBLAB_NAME: name, CBLAB_NET: net, CBLAB_STATE: state };
  const ns = `cblab-${name}`;
  const lab: Lab = {
    name,
    net,
    ns,
    state,
    env,
    run(script, args = [], timeoutMs = 120_000) {
      return execFileSync('bash', [join(ROOT, 'lab', script), ...args], { env, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    },
    curl(method, path, o = {}) {
      const args = ['netns', 'exec', ns, 'curl', '-s', '-m', '20', '-X', method, '-w', '\n%{http_code}', `http://${net}.1${path}`];
      if (o.token) args.push('-H', `Authorization: Bearer ${o.token}`);
      if (o.body !== undefined) args.push('-H', `Content-Type: ${o.contentType ?? 'application/json'}`, '--data-binary', '@-');
      const out = execFileSync('ip', args, { input: o.body ?? '', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const i = out.lastIndexOf('\n');
      const text = out.slice(0, i);
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: Number(out.slice(i + 1)), body };
    },
    token() {
      return readFileSync(join(state, 'appliance', 'admin.token'), 'utf8').trim();
    },
    start() {
      lab.run('up.sh');
      lab.run('ra.sh', ['start']);
      lab.run('appliance.sh', ['start'], 60_000);
      return lab.token();
    },
    down() {
      try {
        execFileSync('bash', [join(ROOT, 'lab', 'down.sh'), '--purge'], { env, stdio: 'ignore', timeout: 60_000 });
      } catch {
        /* best effort */
      }
    },
    teardown(lines = 15) {
      try {
        process.stdout.write(`[lab] appliance log tail:\n${readFileSync(join(state, 'appliance.log'), 'utf8').split('\n').slice(-lines).join('\n')}\n`);
      } catch {
        /* no log */
      }
      lab.down();
    },
  };
  return lab;
}

/** Boot phases seen on a VM's serial console (ms since epoch, first sighting). */
export interface Phases {
  poweron: number;
  dhcp?: number;
  tftp?: number;
  script?: number;
  kernel?: number;
  linux?: number;
  registered?: number;
}

const MARKERS: Array<[keyof Phases, RegExp]> = [
  ['dhcp', /Configuring \(net\d [0-9a-f:]+\)\.*\s*ok/],
  ['tftp', /(snponly\.efi|undionly\.kpxe|ipxe\.efi)\.*\s*ok|Downloading NBP file|NBP file downloaded/],
  ['script', /\.ipxe\.\.\.\s*ok/],
  ['kernel', /initrd\.img\.\.\.[^\n]*ok/],
  ['linux', /\[crowbar-agent [0-9.]+\] start/],
  ['registered', /\[crowbar-agent [0-9.]+\] REGISTERED as/],
];

/** Polls serial logs and records when each boot phase marker first appears after `from` bytes. */
export class SerialWatcher {
  readonly phases: Phases;
  private readonly offset: number;

  constructor(
    private readonly file: string,
    poweron: number,
  ) {
    this.offset = existsSync(file) ? readFileSync(file).length : 0;
    this.phases = { poweron };
  }

  /** Read new output and stamp phases seen for the first time. */
  poll(now = Date.now()): string {
    if (!existsSync(this.file)) return '';
    const text = readFileSync(this.file).subarray(this.offset).toString('latin1').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    for (const [k, re] of MARKERS) if (this.phases[k] === undefined && re.test(text)) this.phases[k] = now;
    return text;
  }
}

/** Format phases as `power-on -> DHCP 3.1s -> ...` (seconds since power-on). */
export function formatPhases(p: Phases): string {
  const names: Array<[keyof Phases, string]> = [
    ['dhcp', 'DHCP'],
    ['tftp', 'TFTP'],
    ['script', 'iPXE script'],
    ['kernel', 'kernel+initrd'],
    ['linux', 'agent start'],
    ['registered', 'registered'],
  ];
  return names.map(([k, n]) => `${n} ${p[k] === undefined ? 'n/a' : (((p[k] as number) - p.poweron) / 1000).toFixed(1) + 's'}`).join(' -> ');
}

/** Sleep. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
