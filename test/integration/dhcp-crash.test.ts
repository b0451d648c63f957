/**
 * Crash safety of DHCP leases (design.md §5): a relay-style load generator
 * keeps DORA exchanges running with fresh MACs while the server is killed
 * with SIGKILL at random moments and restarted, >= 20 times. Every ACK the
 * client received is recorded on the client side. Afterwards: no address
 * was ever acknowledged to two MACs, and every acknowledged lease is in the
 * database, bound to the MAC it was acknowledged to.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns, createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { nextPort, ROOT, startAppliance, type RunningAppliance } from '../helpers/appliance.js';
import type { ChildProcess } from 'node:child_process';

/** kill -9 cycles (12 in the default run, about 3 s each: most of it is the appliance's start; CROWBAR_CRASH_CYCLES for more). */
const CYCLES = Number(process.env.CROWBAR_CRASH_CYCLES) || 12;

describe.skipIf(!canUseNetns())('dhcp leases survive kill -9 under load', () => {
  let pair: NetnsPair;
  let work: string;
  let gen: ChildProcess;
  let app: RunningAppliance | undefined;
  let acks = '';

  beforeAll(() => {
    pair = createNetnsPair();
    work = mkdtempSync(join(tmpdir(), 'crowbar-dhcp-crash-'));
  });
  afterAll(async () => {
    if (gen && gen.exitCode === null) gen.kill('SIGKILL');
    await app?.kill();
    pair?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it(`${CYCLES} kill -9 cycles: no address acknowledged to two MACs, every ACKed lease kept`, async () => {
    const dataDir = join(work, 'data');
    mkdirSync(dataDir);
    const httpPort = nextPort();
    // The admin network is the /16 around the pair's /24 (the generator relays
    // from its on-link address, so replies stay on the veth); the pool is the
    // half of the /16 that does not hold the pair's /24.
    const [a, b, y] = pair.srvIp.split('.').map(Number);
    const half = y < 128 ? [128, 255] : [0, 127];
    const config = {
      log_level: 'info',
      admin_network: { interface: pair.srvIf, address: `${pair.srvIp}/16`, domain: 'crowbar.test', host_range_start: `${a}.${b}.${y}.3`, host_range_end: `${a}.${b}.${y}.9` },
      services: {
        dhcp: { enabled: true, range_start: `${a}.${b}.${half[0]}.1`, range_end: `${a}.${b}.${half[1]}.254` },
        http: { bind: '127.0.0.1', port: httpPort },
      },
    };
    gen = pair.spawn(pair.cli, [process.execPath, '--import', 'tsx', join(ROOT, 'test/helpers/dhcp-load.ts'), pair.srvIp, pair.cliIp, '8']);
    gen.stdout!.on('data', (d) => (acks += d));
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    let lastCount = 0;
    let grew = 0;
    for (let c = 0; c < CYCLES; c++) {
      app = await startAppliance({ netns: pair.srv, dataDir, config, timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 150 + Math.floor(rnd() * 600)));
      await app.kill();
      const n = acks.split('\n').filter(Boolean).length;
      if (n > lastCount) grew++;
      lastCount = n;
    }
    // Final start: the store must open cleanly; then stop the load and read the leases.
    app = await startAppliance({ netns: pair.srv, dataDir, config, timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    gen.kill('SIGTERM');
    await new Promise((r) => gen.once('exit', r));
    await app.stop();
    app = undefined;

    const records = acks.split('\n').filter(Boolean).map((l) => l.split(' '));
    expect(records.length).toBeGreaterThan(CYCLES * 5);
    expect(grew).toBeGreaterThanOrEqual(CYCLES / 2); // load really ran during most cycles
    const byAddr = new Map<string, Set<string>>();
    for (const [, mac, ip] of records) {
      if (!byAddr.has(ip)) byAddr.set(ip, new Set());
      byAddr.get(ip)!.add(mac);
    }
    const doubles = [...byAddr].filter(([, macs]) => macs.size > 1);
    expect(doubles).toEqual([]);
    const db = new Database(join(dataDir, 'crowbar.db'), { readonly: true });
    const rows = new Map((db.prepare('SELECT address, mac, state FROM dhcp_leases').all() as Array<{ address: string; mac: string; state: string }>).map((r) => [r.address, r]));
    db.close();
    console.log(`crash test: ${records.length} ACKs recorded over ${CYCLES} kill -9 cycles, ${rows.size} lease rows`);
    const missing = records.filter(([, mac, ip]) => rows.get(ip)?.mac !== mac || rows.get(ip)?.state !== 'bound');
    expect(missing).toEqual([]);
  }, 240_000);
});
