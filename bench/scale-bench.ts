/**
 * Scale benchmark (docs/simulator.md): for each size in SCALE_SIZES (default
 * "100 1000 5000"), a fresh appliance (child process, loopback) and that many
 * simulated machines in SCALE_RACKS racks from power-on to `ready` with a
 * simulated install time of zero. Reports machines per minute, per-phase
 * p50/p95/p99, appliance CPU and RSS (from /proc of the child), database
 * size, and API / console latency sampled once a second during the run.
 * SCALE_REPS runs per size (medians reported when > 1).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { percentiles } from '../src/sim/stats.js';
import { simulation, startSimAppliance } from '../test/helpers/sim-appliance.js';
import { nextPort } from '../test/helpers/appliance.js';

const sizes = (process.env.SCALE_SIZES ?? '100 1000 5000').split(/\s+/).filter(Boolean).map(Number);
const reps = Number(process.env.SCALE_REPS ?? 1);
const racks = Number(process.env.SCALE_RACKS ?? 10);
const rate = Number(process.env.SCALE_RATE ?? 50);
const HZ = 100;
const run = promisify(execFile);

function procStat(pid: number): { cpuMs: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMs = ((Number(f[11]) + Number(f[12])) * 1000) / HZ;
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs, rssKb: rss ? Number(rss[1]) : 0 };
}

/**
 * One request timed by curl in its own process (%{time_total}), so the
 * simulator's event loop in this process does not inflate the figure; with
 * curl's connect and first-byte times (where a slow sample's time went).
 */
async function sample(url: string, token: string | null): Promise<{ ms: number; connectMs: number; firstByteMs: number }> {
  const args = ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total} %{time_connect} %{time_starttransfer}', '-m', '30', ...(token ? ['-H', `Authorization: Bearer ${token}`] : []), url];
  const { stdout } = await run('curl', args);
  const [code, secs, connect, first] = stdout.trim().split(' ');
  if (!code.startsWith('2')) throw new Error(`${url}: HTTP ${code}`);
  return { ms: Number(secs) * 1000, connectMs: Math.round(Number(connect) * 1000), firstByteMs: Math.round(Number(first) * 1000) };
}

/** Latency of one request, ms (sample()). */
const timed = async (url: string, token: string | null): Promise<number> => (await sample(url, token)).ms;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

interface Run {
  n: number;
  ready: number;
  perMin: number;
  wallS: number;
  phases: Record<string, { p50: number; p95: number; p99: number }>;
  cpuPct: number;
  rssMaxMb: number;
  dbMb: number;
  apiList: { p50: number; p99: number };
  apiNode: { p50: number; p99: number };
  consoleMs: { p50: number; p99: number };
  /** Median latency of the same requests after the run (the endpoint's own cost). */
  idleMs: { list: number; node: number; console: number };
  /** The appliance's admission counters at the end (src/api/admission.ts). */
  admission: Record<string, number>;
  /** Maxima of the appliance's own memory figures (health: rss, heap_used, external, array_buffers). */
  memoryMaxMb: Record<string, number>;
  /** The appliance's event-loop delay over the run (health). */
  loopDelayMs: Record<string, number>;
  /** GET /nodes samples over 500 ms: seconds into the run and latency. */
  slowListSamples: string[];
}

async function one(n: number): Promise<Run> {
  // Operators (and this benchmark's latency samples) use the operator port: its own accept queue
  // (services.http.operator_port, src/api/operator-listener.ts). SCALE_OPERATOR_PORT=0 samples the main port.
  const opPort = process.env.SCALE_OPERATOR_PORT === '0' ? 0 : nextPort() + 5000;
  const s = await startSimAppliance(opPort ? { services: { http: { operator_port: opPort } } } : {});
  const opUrl = opPort ? `http://127.0.0.1:${opPort}` : s.app.baseUrl;
  const pid = s.app.proc.pid!;
  const sim = await simulation(s, {
    nodes: n,
    racks,
    seed: `bench${n}-${Date.now()}`,
    bmcFactoryOctet: 100,
    bmcNetwork: '127.64.0.0/16',
    installMs: 0,
    pollMs: 1000,
    powerOnPerSecond: rate,
    deadlineMs: Number(process.env.SCALE_DEADLINE_S ?? 1200) * 1000,
    timeoutMs: 60_000,
  });
  const c0 = procStat(pid);
  const t0 = Date.now();
  const lat = { list: [] as number[], node: [] as number[], console: [] as number[] };
  const slow: string[] = [];
  let rssMax = c0.rssKb;
  const memMax: Record<string, number> = {};
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        rssMax = Math.max(rssMax, procStat(pid).rssKb);
        const h = (await (await fetch(`${opUrl}/api/v1/health`)).json()) as { memory?: Record<string, number> };
        for (const [k, v] of Object.entries(h.memory ?? {})) memMax[k] = Math.max(memMax[k] ?? 0, v);
        const l = await sample(`${opUrl}/api/v1/nodes`, s.app.token);
        lat.list.push(l.ms);
        if (l.ms > 500) slow.push(`${Math.round((Date.now() - t0) / 1000)}s:${Math.round(l.ms)}ms (connect ${l.connectMs} first byte ${l.firstByteMs})`);
        const named = sim.machines.find((m) => m.node)?.node;
        if (named) lat.node.push(await timed(`${opUrl}/api/v1/nodes/${named}`, s.app.token));
        lat.console.push(await timed(`${opUrl}/console/`, null));
      } catch (e) {
        process.stderr.write(`sample failed: ${String(e)}\n`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const report = await sim.run();
  sampling = false;
  await sampler;
  const c1 = procStat(pid);
  const wall = Date.now() - t0;
  // The same requests once the run is over: what the endpoints cost by themselves (vs. waiting for the loop).
  const idle = { list: [] as number[], node: [] as number[], console: [] as number[] };
  const someNode = sim.machines.find((m) => m.node)?.node;
  for (let i = 0; i < 10; i++) {
    idle.list.push(await timed(`${opUrl}/api/v1/nodes`, s.app.token));
    if (someNode) idle.node.push(await timed(`${opUrl}/api/v1/nodes/${someNode}`, s.app.token));
    idle.console.push(await timed(`${opUrl}/console/`, null));
  }
  const health = (await (await fetch(`${opUrl}/api/v1/health`)).json()) as { machine_requests?: Record<string, number>; event_loop_delay_ms?: Record<string, number> };
  const db = join(s.app.dataDir, 'crowbar.db');
  const dbBytes = ['', '-wal', '-shm'].map((x) => (existsSync(db + x) ? statSync(db + x).size : 0)).reduce((a, b) => a + b, 0);
  // Operator requests the appliance itself took over a second for (machine requests wait in the admission queue by design).
  const slowLog = s.app.output().split('\n').filter((l) => l.includes('slow request') && !/"path":"\/(api\/v1\/agent|api\/v1\/discovery|boot|install|os)\b|runlist/.test(l));
  if (slowLog.length) process.stderr.write(`appliance: ${slowLog.length} slow operator requests, e.g.\n${slowLog.slice(0, 8).join('\n')}\n`);
  await sim.stop();
  await s.stop();
  const pick = (xs: number[]) => {
    const p = percentiles(xs);
    return { p50: Math.round(p.p50 * 10) / 10, p99: Math.round(p.p99 * 10) / 10 };
  };
  const phases: Run['phases'] = {};
  for (const [k, p] of Object.entries(report.phases)) phases[k] = { p50: p.p50 / 1000, p95: p.p95 / 1000, p99: p.p99 / 1000 };
  if (report.outcomes.ready !== n) {
    const odd = report.machines.filter((m) => m.outcome !== 'ready').slice(0, 5);
    process.stderr.write(`${n}: ${n - report.outcomes.ready} machines not ready: ${JSON.stringify(report.outcomes)} e.g. ${JSON.stringify(odd)}\n`);
  }
  return {
    n,
    ready: report.outcomes.ready,
    perMin: report.machinesPerMinute,
    wallS: Math.round(wall / 100) / 10,
    phases,
    cpuPct: Math.round(((c1.cpuMs - c0.cpuMs) / wall) * 1000) / 10,
    rssMaxMb: Math.round(rssMax / 102.4) / 10,
    dbMb: Math.round(dbBytes / 104857.6) / 10,
    apiList: pick(lat.list),
    apiNode: pick(lat.node),
    consoleMs: pick(lat.console),
    idleMs: { list: median(idle.list), node: median(idle.node ?? []), console: median(idle.console) },
    admission: health.machine_requests ?? {},
    memoryMaxMb: memMax,
    loopDelayMs: health.event_loop_delay_ms ?? {},
    slowListSamples: slow.slice(0, 20),
  };
}

const f = (x: number) => x.toFixed(1);
console.log(`scale bench: sizes ${sizes.join(', ')}, ${racks} racks, power-on ${rate}/s, install time 0, ${reps} run(s) each; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
for (const n of sizes) {
  const runs: Run[] = [];
  for (let i = 0; i < reps; i++) {
    const r = await one(n);
    runs.push(r);
    console.log(`  run ${i + 1}: ${JSON.stringify(r)}`);
  }
  const m = (g: (r: Run) => number) => median(runs.map(g));
  console.log(
    `N=${n}: ready ${m((r) => r.ready)}/${n} in ${f(m((r) => r.wallS))} s = ${f(m((r) => r.perMin))} machines/min; appliance CPU ${f(m((r) => r.cpuPct))} % of one core, RSS max ${f(m((r) => r.rssMaxMb))} MB, DB ${f(m((r) => r.dbMb))} MB`,
  );
  console.log(`  after the run (idle appliance), medians: GET /nodes ${f(m((r) => r.idleMs.list))} ms, GET /nodes/{name} ${f(m((r) => r.idleMs.node))} ms, console ${f(m((r) => r.idleMs.console))} ms; machine requests queued/refused (last run) ${runs[runs.length - 1].admission.queued ?? '-'}/${runs[runs.length - 1].admission.refused ?? '-'}`);
  console.log(`  API GET /nodes p50/p99 ${f(m((r) => r.apiList.p50))}/${f(m((r) => r.apiList.p99))} ms; GET /nodes/{name} ${f(m((r) => r.apiNode.p50))}/${f(m((r) => r.apiNode.p99))} ms; console ${f(m((r) => r.consoleMs.p50))}/${f(m((r) => r.consoleMs.p99))} ms`);
  console.log('  phase                 p50 s   p95 s   p99 s');
  for (const k of Object.keys(runs[0].phases)) console.log(`  ${k.padEnd(20)} ${f(m((r) => r.phases[k].p50)).padStart(6)} ${f(m((r) => r.phases[k].p95)).padStart(7)} ${f(m((r) => r.phases[k].p99)).padStart(7)}`);
}
process.exit(0);
