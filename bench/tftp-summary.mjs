// Summarise a bench CSV (header: server,test,repeat,seconds,mb_per_s,ok[,srv_cpu_s]):
// median (min-max) per server and test, then the ratio of `ours` to every
// other server per test (ratio of medians of MB/s).
// usage: node bench/tftp-summary.mjs FILE.csv [OURS_LABEL]
import { readFileSync } from 'node:fs';

const [file, ours = 'crowbar'] = process.argv.slice(2);
const lines = readFileSync(file, 'utf8').trim().split('\n');
const hdr = lines[0].split(',');
const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [hdr[i], v])));
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const fmt = (x) => (!Number.isFinite(x) ? 'n/a' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toPrecision(3));
const groups = new Map();
for (const r of rows) {
  const k = `${r.test}\u0000${r.server}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
const tests = [...new Set(rows.map((r) => r.test))];
const servers = [...new Set(rows.map((r) => r.server))];
const hasCpu = hdr.includes('srv_cpu_s');
console.log(`| test | server | MB/s median (min-max) | seconds median | ok (all runs) |${hasCpu ? ' server CPU-s |' : ''} n |`);
console.log(`|---|---|---|---|---|${hasCpu ? '---|' : ''}---|`);
const med = new Map();
for (const t of tests) {
  for (const s of servers) {
    const rs = groups.get(`${t}\u0000${s}`);
    if (!rs) continue;
    const mb = rs.map((r) => Number(r.mb_per_s));
    const m = median(mb);
    med.set(`${t}\u0000${s}`, m);
    const ok = rs.map((r) => r.ok).join('/');
    const cpu = hasCpu ? ` ${fmt(median(rs.map((r) => Number(r.srv_cpu_s))))} |` : '';
    console.log(`| ${t} | ${s} | ${fmt(m)} (${fmt(Math.min(...mb))}-${fmt(Math.max(...mb))}) | ${fmt(median(rs.map((r) => Number(r.seconds))))} | ${ok} |${cpu} ${rs.length} |`);
  }
}
const others = servers.filter((s) => s !== ours);
if (servers.includes(ours) && others.length) {
  console.log('');
  console.log(`| test | ${others.map((o) => `${ours} / ${o}`).join(' | ')} |`);
  console.log(`|---|${others.map(() => '---|').join('')}`);
  for (const t of tests) {
    const m = med.get(`${t}\u0000${ours}`);
    const cells = others.map((o) => {
      const r = m / med.get(`${t}\u0000${o}`);
      return Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a';
    });
    console.log(`| ${t} | ${cells.join(' | ')} |`);
  }
}
