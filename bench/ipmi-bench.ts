/**
 * Driver of bench/ipmi.bench.sh: creates a namespace pair, starts ipmi_sim
 * BMCs on the server side, runs bench/ipmi-bench-client.ts on the client
 * side, prints its table, and cleans up (namespaces and processes by PID).
 */
import { createNetnsPair } from '../test/helpers/netns.js';
import { startIpmiSim, type IpmiSim } from '../test/helpers/ipmisim.js';

const nBmcs = Number(process.env.IPMI_BENCH_BMCS ?? 8);
const pair = createNetnsPair();
const sims: IpmiSim[] = [];
try {
  const subnet = pair.srvIp.split('.').slice(0, 3).join('.');
  const hosts: string[] = [];
  for (let i = 0; i < nBmcs; i++) {
    const ip = i === 0 ? pair.srvIp : `${subnet}.${10 + i}`;
    if (i > 0) pair.exec(pair.srv, ['ip', 'addr', 'add', `${ip}/24`, 'dev', pair.srvIf]);
    sims.push(await startIpmiSim(pair, pair.srv, ip, { password: 'bench-pass-1' }));
    hosts.push(ip);
  }
  const out = pair.exec(
    pair.cli,
    [process.execPath, '--import', 'tsx', 'bench/ipmi-bench-client.ts', JSON.stringify({ hosts, user: 'admin', password: 'bench-pass-1' })],
    { timeoutMs: 280_000 },
  );
  process.stdout.write(out);
} finally {
  for (const s of sims) s.stop();
  pair.cleanup();
}
