/**
 * Network namespaces for integration tests (house rule 3: tests touch only
 * loopback or namespaces they create). Each test gets uniquely named
 * namespaces `cbt<id>s` / `cbt<id>c` joined by a veth pair on a private /24,
 * and removes them in cleanup. Commands run inside with `ip netns exec`.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** True when running as root with `ip` available (namespace tests need both). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** True when `cmd` is on PATH. */
export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function sh(args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A server namespace and a client namespace joined by a veth pair. */
export interface NetnsPair {
  /** Server-side namespace name. */
  srv: string;
  /** Client-side namespace name. */
  cli: string;
  /** Interface names in each namespace. */
  srvIf: string;
  cliIf: string;
  /** Addresses (without prefix) and the prefix length. */
  srvIp: string;
  cliIp: string;
  prefix: number;
  /** Run a command in a namespace and return stdout (throws on non-zero exit). */
  exec(ns: string, cmd: string[], opts?: { timeoutMs?: number; input?: string }): string;
  /** Spawn a command in a namespace. */
  spawn(ns: string, cmd: string[], opts?: SpawnOptions): ChildProcess;
  /** Delete both namespaces and kill what runs inside them. */
  cleanup(): void;
}

/** Kill every process inside namespace `ns`, then delete it (idempotent). */
export function deleteNetns(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  } catch {
    /* no such namespace */
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

/**
 * Create a namespace pair on 10.<a>.<b>.0/24 (a random private /24 unless
 * given). Server gets .1, client .2. Loopback is brought up in both.
 */
export function createNetnsPair(opts: { subnet?: string } = {}): NetnsPair {
  const id = randomBytes(3).toString('hex');
  const srv = `cbt${id}s`;
  const cli = `cbt${id}c`;
  const srvIf = `cb${id}s`;
  const cliIf = `cb${id}c`;
  const subnet = opts.subnet ?? `10.${100 + (parseInt(id.slice(0, 2), 16) % 100)}.${parseInt(id.slice(2, 4), 16)}`;
  const srvIp = `${subnet}.1`;
  const cliIp = `${subnet}.2`;
  const pair: NetnsPair = {
    srv,
    cli,
    srvIf,
    cliIf,
    srvIp,
    cliIp,
    prefix: 24,
    exec(ns, cmd, o = {}) {
      return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: o.timeoutMs ?? 30_000, input: o.input, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    spawn(ns, cmd, o = {}) {
      return spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], ...o });
    },
    cleanup() {
      deleteNetns(cli);
      deleteNetns(srv);
    },
  };
  try {
    sh(['ip', 'netns', 'add', srv]);
    sh(['ip', 'netns', 'add', cli]);
    sh(['ip', 'link', 'add', srvIf, 'netns', srv, 'type', 'veth', 'peer', 'name', cliIf, 'netns', cli]);
    for (const [ns, ifn, ip] of [
      [srv, srvIf, srvIp],
      [cli, cliIf, cliIp],
    ] as const) {
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', ifn]);
      sh(['ip', '-n', ns, 'link', 'set', ifn, 'up']);
    }
  } catch (e) {
    pair.cleanup();
    throw e;
  }
  return pair;
}
