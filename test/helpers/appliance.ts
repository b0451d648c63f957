/**
 * Start a real appliance process (`crowbar serve`) for integration tests, with
 * a temporary data directory and a config on high ports, optionally inside a
 * network namespace. Returns its admin token and helpers for API calls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Repository root. */
export const ROOT = resolve(import.meta.dirname, '..', '..');

/** A running appliance process. */
export interface RunningAppliance {
  proc: ChildProcess;
  dataDir: string;
  configPath: string;
  token: string;
  baseUrl: string;
  /** Captured stdout+stderr. */
  output(): string;
  /** fetch against the API with the admin token. */
  api(path: string, init?: { method?: string; body?: unknown; token?: string | null }): Promise<{ status: number; body: any }>;
  /** SIGTERM and wait for exit (returns the exit code). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/** Options for startAppliance. */
export interface StartOptions {
  /** Config object (merged over a loopback default). */
  config?: Record<string, unknown>;
  /** Reuse a data directory (restart tests). */
  dataDir?: string;
  /** Run inside this network namespace. */
  netns?: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** How long to wait for health. */
  timeoutMs?: number;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? deepMerge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

let portSeq = 20000 + (process.pid % 2000) * 10;
/** A fresh high port for this test process. */
export function nextPort(): number {
  portSeq += 1;
  return portSeq;
}

/** Start `crowbar serve` and wait until /api/v1/health answers. */
export async function startAppliance(o: StartOptions = {}): Promise<RunningAppliance> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'crowbar-test-'));
  const httpPort = nextPort();
  const base = {
    data_dir: dataDir,
    log_level: 'info',
    admin_network: { interface: 'lo', address: '127.0.0.1/8', domain: 'crowbar.test' },
    // no import of this machine's built root image (a 160 MB copy) into every test appliance
    discovery: { root_image_cache: '' },
    services: {
      dhcp: { enabled: false },
      tftp: { enabled: false },
      dns: { enabled: false },
      ntp: { enabled: false },
      http: { bind: '127.0.0.1', port: httpPort },
    },
  };
  const cfg = deepMerge(base, o.config ?? {});
  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify(cfg, null, 2));
  const http = (cfg.services as any).http;
  const baseUrl = `http://${http.bind === '0.0.0.0' ? '127.0.0.1' : http.bind}:${http.port}`;
  // CROWBAR_APPLIANCE_NODE_ARGS: extra node flags for the child (e.g. `--cpu-prof --cpu-prof-dir=DIR`
  // to profile the appliance under a benchmark; NODE_OPTIONS refuses --cpu-prof).
  const nodeArgs = (process.env.CROWBAR_APPLIANCE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const cmd = [process.execPath, ...nodeArgs, '--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', configPath];
  const full = o.netns ? ['ip', 'netns', 'exec', o.netns, ...cmd] : cmd;
  const proc = spawn(full[0], full.slice(1), { cwd: ROOT, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  const fetchIn = async (url: string, init: RequestInit): Promise<Response> => {
    if (!o.netns) return fetch(url, init);
    throw new Error('api() from outside a netns is not supported; use exec curl');
  };
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`appliance exited with ${proc.exitCode}:\n${out}`);
    try {
      if (o.netns) {
        if (/crowbar is running/.test(out)) break;
      } else {
        const r = await fetch(`${baseUrl}/api/v1/health`);
        if (r.ok) break;
      }
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (Date.now() >= deadline) {
    proc.kill('SIGKILL');
    throw new Error(`appliance did not become healthy:\n${out}`);
  }
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    proc,
    dataDir,
    configPath,
    token,
    baseUrl,
    output: () => out,
    async api(path, init = {}) {
      const headers: Record<string, string> = {};
      const tok = init.token === undefined ? token : init.token;
      if (tok) headers.authorization = `Bearer ${tok}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      }
      const r = await fetchIn(`${baseUrl}${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
      const text = await r.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: r.status, body: parsed };
    },
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Remove a data directory made by startAppliance. */
export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** What one CLI run printed and how it exited. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `crowbar ARGS` from source as a separate process (asynchronously, so
 * fakes living in this process keep answering). `env` is added to this
 * process's environment; `input`, when given, is written to stdin and closed.
 */
export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliRun> {
  return new Promise((res) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (status) => res({ status, stdout, stderr }));
    if (input !== undefined) p.stdin.end(input);
  });
}
