/**
 * Barclamps benchmark (loopback only): the run-list endpoint of our
 * appliance (a dynamic document: the nagios server of 200 nodes with every
 * peer, computed per request) side by side with nginx serving the same
 * bytes as a static file (the ceiling for "a JSON document over HTTP" on
 * this machine), plus the IP allocation rate through the REST API under
 * concurrency (no reference server does REST allocation; reported alone).
 * Interleaved repeats; prints medians (min-max) and ratios.
 *
 * env: REPEATS=3 NODES=150 REQS=2000 CONC=16 ALLOCS=120 (default ranges: bmc 180 nodes, public 126 addresses)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openDatabase } from '../src/store/db.js';
import { NodeRepo } from '../src/store/nodes.js';

const ROOT = resolve(import.meta.dirname, '..');
const REPEATS = Number(process.env.REPEATS ?? 3);
const NODES = Number(process.env.NODES ?? 150);
const REQS = Number(process.env.REQS ?? 2000);
const CONC = Number(process.env.CONC ?? 16);
const ALLOCS = Number(process.env.ALLOCS ?? 120);
const PORT = 20000 + (process.pid % 5000);
const NGINX_PORT = PORT + 1;

const work = mkdtempSync(join(tmpdir(), 'cb-bench-bc-'));
const procs: ChildProcess[] = [];
function cleanup(): void {
  for (const p of procs) if (p.exitCode === null && p.pid) process.kill(p.pid, 'SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer`);
}

async function load(url: string, n: number, conc: number, init: (i: number) => RequestInit | undefined, check: (status: number, body: string) => boolean): Promise<{ rps: number; p50: number; p99: number; ok: number }> {
  const lat: number[] = [];
  let next = 0;
  let ok = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const s = performance.now();
        const r = await fetch(typeof url === 'string' ? url : url, init(i));
        const body = await r.text();
        lat.push(performance.now() - s);
        if (check(r.status, body)) ok++;
      }
    }),
  );
  const dt = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: n / dt, p50: lat[Math.floor(lat.length / 2)], p99: lat[Math.floor(lat.length * 0.99)], ok };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[], d = 0): string => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})`;

async function main(): Promise<void> {
  const dataDir = join(work, 'data');
  const cfg = {
    data_dir: dataDir,
    log_level: 'warn',
    admin_network: { interface: 'lo', address: '10.99.0.1/20', domain: 'crowbar.test' },
    services: { dhcp: { enabled: false }, tftp: { enabled: false }, dns: { enabled: false }, ntp: { enabled: false }, http: { bind: '127.0.0.1', port: PORT } },
  };
  writeFileSync(join(work, 'config.json'), JSON.stringify(cfg));
  const app = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', join(work, 'config.json')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(app);
  const base = `http://127.0.0.1:${PORT}`;
  await waitHttp(`${base}/api/v1/health`);
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const H = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, { method, headers: H, body: body === undefined ? undefined : JSON.stringify(body) });
    const j = (await r.json()) as any;
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${j.message}`);
    return j;
  };

  // Nodes straight into the database (ready, two NICs), then proposals over the API.
  const db = openDatabase(join(dataDir, 'crowbar.db'));
  const repo = new NodeRepo(db);
  const names: string[] = [];
  for (let i = 0; i < NODES; i++) {
    const m = (k: number) => `52:54:09:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:0${k}`;
    names.push(repo.create({ name: `b${i}.crowbar.test`, macs: [m(0), m(1)], state: 'ready', cause: 'bench', inventory: { nics: [{ name: 'eth0', mac: m(0), speed_mbps: 1000 }, { name: 'eth1', mac: m(1), speed_mbps: 10000 }] } }, Date.now()).name);
  }
  db.close();
  for (const bc of ['crowbar', 'network', 'nagios']) {
    await call('POST', `/api/v1/barclamps/${bc}/proposals`, { name: 'default' });
    await call('POST', `/api/v1/barclamps/${bc}/proposals/default/commit`);
  }
  const rlPath = `/api/v1/nodes/${names[0]}/runlist`;
  const sample = await (await fetch(`${base}${rlPath}`, { headers: H })).text();
  const roles = (JSON.parse(sample) as { roles: Array<{ role: string }> }).roles.map((r) => r.role);
  mkdirSync(join(work, 'www'), { recursive: true });
  writeFileSync(join(work, 'www', 'runlist.json'), sample);
  writeFileSync(
    join(work, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx.err warn;
events { worker_connections 1024; }
http { access_log off; default_type application/json; client_body_temp_path ${work}; proxy_temp_path ${work}; fastcgi_temp_path ${work}; uwsgi_temp_path ${work}; scgi_temp_path ${work};
  server { listen 127.0.0.1:${NGINX_PORT}; root ${work}/www; } }\n`,
  );
  const nginx = spawn('nginx', ['-c', join(work, 'nginx.conf'), '-p', work], { stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(nginx);
  await waitHttp(`http://127.0.0.1:${NGINX_PORT}/runlist.json`);
  process.stderr.write(`run list of ${names[0]}: ${sample.length} bytes, roles ${roles.join(',')}; ${NODES} nodes\n`);

  const res: Record<string, { rps: number[]; p50: number[]; p99: number[]; cpu: number[] }> = {};
  const rec = (k: string, r: { rps: number; p50: number; p99: number }, cpu: number) => {
    const e = (res[k] ??= { rps: [], p50: [], p99: [], cpu: [] });
    e.rps.push(r.rps);
    e.p50.push(r.p50);
    e.p99.push(r.p99);
    e.cpu.push(cpu);
  };
  const auth = { headers: { authorization: `Bearer ${token}` } };
  let allocBase = 0;
  for (let rep = 1; rep <= REPEATS; rep++) {
    let c0 = cpuSeconds(app.pid!);
    let r = await load(`${base}${rlPath}`, REQS, CONC, () => auth, (s, b) => s === 200 && b.length === sample.length);
    if (r.ok !== REQS) throw new Error(`crowbar run list: only ${r.ok}/${REQS} ok`);
    rec('runlist crowbar', r, (cpuSeconds(app.pid!) - c0) / REQS);
    c0 = cpuSeconds(nginx.pid!);
    r = await load(`http://127.0.0.1:${NGINX_PORT}/runlist.json`, REQS, CONC, () => undefined, (s, b) => s === 200 && b.length === sample.length);
    if (r.ok !== REQS) throw new Error(`nginx: only ${r.ok}/${REQS} ok`);
    rec('runlist nginx-static', r, (cpuSeconds(nginx.pid!) - c0) / REQS);
    // Allocation: ALLOCS distinct nodes on 'public', concurrency CONC (released after, so each repeat starts equal).
    // Not names[0]: its own run list must stay byte-identical across repeats.
    const slice = names.slice(1, 1 + Math.min(ALLOCS, names.length - 1));
    const n = slice.length;
    c0 = cpuSeconds(app.pid!);
    const seen = new Set<string>();
    r = await load(
      `${base}/api/v1/networks/public/allocations`,
      n,
      CONC,
      (i) => ({ method: 'POST', headers: H, body: JSON.stringify({ node: slice[i] }) }),
      (s, b) => {
        if (s !== 200) return false;
        const a = (JSON.parse(b) as { address: string }).address;
        if (seen.has(a)) return false;
        seen.add(a);
        return true;
      },
    );
    if (r.ok !== n) throw new Error(`allocation: only ${r.ok}/${n} distinct`);
    rec('allocate crowbar', r, (cpuSeconds(app.pid!) - c0) / n);
    await Promise.all(slice.map((nm) => fetch(`${base}/api/v1/networks/public/allocations/${nm}`, { method: 'DELETE', headers: { authorization: H.authorization } })));
    allocBase += n;
    process.stderr.write(`repeat ${rep} done\n`);
  }
  const rows = Object.entries(res);
  console.log(`\n## barclamps: run list (${sample.length} B, ${NODES} peers) and allocation; ${REQS} requests x${CONC} concurrent; median (min-max) of ${REPEATS}`);
  console.log('| test | req/s | p50 ms | p99 ms | server CPU ms/req |');
  console.log('|---|---|---|---|---|');
  for (const [k, v] of rows) console.log(`| ${k} | ${fmt(v.rps)} | ${fmt(v.p50, 2)} | ${fmt(v.p99, 2)} | ${fmt(v.cpu.map((x) => x * 1000), 3)} |`);
  const ratio = median(res['runlist crowbar'].rps) / median(res['runlist nginx-static'].rps);
  console.log(`\nratio run list crowbar/nginx-static (req/s): ${ratio.toFixed(2)}; allocations checked distinct: ${allocBase}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
