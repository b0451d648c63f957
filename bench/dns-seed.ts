/**
 * Benchmark helper: seed a Crowbar data directory with N nodes named
 * node0001.<domain> ... and their admin allocations 10.88.<1+i/250>.<1+i%250>,
 * and write the matching dnsmasq hosts file and the dnsperf query file
 * (alternating A and PTR), and zone files for knot. Usage: tsx bench/dns-seed.ts DATA_DIR OUT_DIR N DOMAIN
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../src/store/db.js';
import { NodeRepo } from '../src/store/nodes.js';
import { AllocationRepo } from '../src/store/allocations.js';

const [dataDir, outDir, nStr, domain] = process.argv.slice(2);
const n = Number(nStr);
mkdirSync(dataDir, { recursive: true, mode: 0o700 });
mkdirSync(outDir, { recursive: true });
const db = openDatabase(join(dataDir, 'crowbar.db'));
const nodes = new NodeRepo(db);
const allocs = new AllocationRepo(db);
const hosts: string[] = [];
const queries: string[] = [];
const head = (origin: string) => [`$ORIGIN ${origin}.`, '$TTL 60', `@ IN SOA admin.${domain}. hostmaster.${domain}. 1 3600 600 86400 60`, `@ IN NS admin.${domain}.`];
const zone = [...head(domain), 'admin IN A 10.88.0.1'];
const rzone = [...head('88.10.in-addr.arpa'), `1.0 IN PTR admin.${domain}.`];
db.transaction(() => {
  for (let i = 1; i <= n; i++) {
    const a = 1 + Math.floor((i - 1) / 250);
    const b = 1 + ((i - 1) % 250);
    const ip = `10.88.${a}.${b}`;
    const name = `node${String(i).padStart(4, '0')}.${domain}`;
    const mac = `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    const node = nodes.create({ name, macs: [mac], state: 'ready', cause: 'bench' }, Date.now());
    allocs.allocate('admin', node.id, { start: '10.88.1.1', end: '10.88.200.250' }, Date.now(), ip);
    hosts.push(`${ip} ${name}`);
    zone.push(`${name}. IN A ${ip}`);
    rzone.push(`${b}.${a} IN PTR ${name}.`);
    queries.push(`${name} A`, `${b}.${a}.88.10.in-addr.arpa PTR`);
  }
})();
db.close();
writeFileSync(join(outDir, 'hosts'), hosts.join('\n') + '\n');
writeFileSync(join(outDir, 'queries.txt'), queries.join('\n') + '\n');
writeFileSync(join(outDir, `${domain}.zone`), zone.join('\n') + '\n');
writeFileSync(join(outDir, '88.10.in-addr.arpa.zone'), rzone.join('\n') + '\n');
