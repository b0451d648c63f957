/** Human summary of a simulation report. */
import type { SimulationReport } from './simulator.js';

const s = (ms: number) => (ms / 1000).toFixed(1);

/** Text lines: outcomes, rate, phase percentiles, problems. */
export function formatReport(r: SimulationReport): string {
  const lines = [
    `${r.nodes} machines in ${r.racks} racks, ${s(r.elapsedMs)} s: ` + Object.entries(r.outcomes).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', '),
    `ready per minute: ${r.machinesPerMinute}; allocated ${r.allocated}; BMC sessions ${r.bmcSessions}; run-list calls refused to the node token: ${r.runlistFallbacks}; busy refusals repeated: ${r.busyRetries}`,
    'phase                   n     p50 s   p95 s   p99 s   max s',
  ];
  for (const [name, p] of Object.entries(r.phases)) lines.push(`${name.padEnd(20)} ${String(p.n).padStart(4)} ${s(p.p50).padStart(7)} ${s(p.p95).padStart(7)} ${s(p.p99).padStart(7)} ${s(p.max).padStart(7)}`);
  const odd = r.machines.filter((m) => m.outcome !== 'ready');
  for (const m of odd.slice(0, 40)) lines.push(`${m.outcome.padEnd(8)} ${m.node ?? m.mac} (fault ${m.fault})${m.reason ? `: ${m.reason}` : ''}`);
  if (odd.length > 40) lines.push(`... ${odd.length - 40} more`);
  return lines.join('\n') + '\n';
}
