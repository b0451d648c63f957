/**
 * Client side of the IPMI benchmark (runs inside the client namespace).
 * 1. Sequential: N x (open session, Get Chassis Status, close) with our
 *    client, and N x `ipmitool -I lanplus -C 3 -E chassis power status`
 *    (one process per operation, how ipmitool is used), interleaved.
 * 2. Fan-out: the status of all BMCs at once, R rounds; ours = parallel
 *    sessions in one process, ipmitool = one process per BMC in parallel.
 * Prints medians (min-max) and ratios.
 */
import { execFile } from 'node:child_process';
import { withSession } from '../src/ipmi/client.js';
import { getChassisStatus } from '../src/ipmi/commands.js';
import { dgramSocketFactory } from '../src/ipmi/transport.js';

const cfg = JSON.parse(process.argv[2]) as { hosts: string[]; user: string; password: string };
const N = Number(process.env.IPMI_BENCH_N ?? 40);
const R = Number(process.env.IPMI_BENCH_ROUNDS ?? 10);

const ours = (host: string) =>
  withSession({ host, user: cfg.user, password: cfg.password }, { sockets: dgramSocketFactory, timeoutMs: 1000, retries: 3 }, (s) => getChassisStatus(s));
const tool = (host: string) =>
  new Promise<void>((res, rej) =>
    execFile('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', host, '-U', cfg.user, '-E', 'chassis', 'power', 'status'], { env: { ...process.env, IPMI_PASSWORD: cfg.password } }, (e, out) =>
      e || !/Chassis Power is/.test(out) ? rej(e ?? new Error(out)) : res(),
    ),
  );

async function time(f: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const med = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (a: number[]) => `${med(a).toFixed(1)} (${Math.min(...a).toFixed(1)}-${Math.max(...a).toFixed(1)})`;

const seqOurs: number[] = [];
const seqTool: number[] = [];
let oursCpu = 0;
for (let i = 0; i < N; i++) {
  const c = process.cpuUsage();
  seqOurs.push(await time(() => ours(cfg.hosts[0])));
  const d = process.cpuUsage(c);
  oursCpu += (d.user + d.system) / 1000;
  seqTool.push(await time(() => tool(cfg.hosts[0])));
}
const fanOurs: number[] = [];
const fanTool: number[] = [];
for (let r = 0; r < R; r++) {
  fanOurs.push(await time(() => Promise.all(cfg.hosts.map(ours))));
  fanTool.push(await time(() => Promise.all(cfg.hosts.map(tool))));
}
const lines = [
  `IPMI (ipmi_sim, lanplus cipher suite 3), login + Get Chassis Status + close; ms, median (min-max)`,
  `| test | crowbar client | ipmitool 1.8.19 | ipmitool / crowbar |`,
  `|---|---|---|---|`,
  `| sequential, 1 BMC, N=${N} | ${fmt(seqOurs)} | ${fmt(seqTool)} | ${(med(seqTool) / med(seqOurs)).toFixed(2)} |`,
  `| fan-out, ${cfg.hosts.length} BMCs at once, ${R} rounds | ${fmt(fanOurs)} | ${fmt(fanTool)} | ${(med(fanTool) / med(fanOurs)).toFixed(2)} |`,
  `crowbar client CPU per sequential operation: ${(oursCpu / N).toFixed(2)} ms`,
];
process.stdout.write(lines.join('\n') + '\n');
