import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { memoryLogger } from '../../src/lib/logger.js';
import { LeaseTable } from '../../src/services/dhcp-lease-table.js';
import { ipNum } from '../../src/services/dhcp-pools.js';
import { openDatabase } from '../../src/store/db.js';
import { inlineCommitter, WorkerCommitter } from '../../src/store/dhcp-lease-committer.js';
import { DhcpLeaseRepo } from '../../src/store/dhcp-leases.js';
import { NodeRepo } from '../../src/store/nodes.js';
import { AllocationRepo } from '../../src/store/allocations.js';
import { nodeReservations } from '../../src/services/dhcp-service.js';

const dir = mkdtempSync(join(tmpdir(), 'crowbar-lease-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lease table with the worker committer', () => {
  it('commits batches on a worker thread before resolving; rows survive a reopen; conflicts reject and restore memory', async () => {
    const path = join(dir, 'crowbar.db');
    const db = openDatabase(path);
    const repo = new DhcpLeaseRepo(db);
    const clock = new ManualClock();
    const committer = new WorkerCommitter(path);
    await committer.whenReady();
    const table = new LeaseTable(repo, committer, clock, memoryLogger(), 100);
    const now = clock.now();
    const binds = [];
    for (let i = 1; i <= 200; i++) {
      binds.push(table.bind({ address_int: 0x0a000000 + i, address: `10.0.0.${i}`, pool: 'admin', mac: `02:00:00:00:00:${(i & 255).toString(16).padStart(2, '0')}`, expires_at: now + 60_000, hostname: null }, false));
    }
    await Promise.all(binds);
    expect(table.stats.ops).toBe(200);
    expect(table.stats.batches).toBeLessThan(200); // grouped
    // every resolved bind is visible to another connection right away
    expect(repo.boundCount()).toBe(200);
    // a direct conflicting write: another MAC on a bound address is refused by SQLite
    const bad = table.bind({ address_int: 0x0a000001, address: '10.0.0.1', pool: 'admin', mac: '02:ff:00:00:00:01', expires_at: now + 60_000, hostname: null }, false);
    await expect(bad).rejects.toThrow(/another MAC/);
    expect(table.row(0x0a000001)!.mac).toBe('02:00:00:00:00:01');
    await table.drain();
    await committer.close();
    db.close();
    const again = openDatabase(path);
    expect(new DhcpLeaseRepo(again).boundCount()).toBe(200);
    again.close();
  });
});

describe('worker death', () => {
  it('falls back to committing inline when the worker dies', async () => {
    const path = join(dir, 'fallback.db');
    const db = openDatabase(path);
    const repo = new DhcpLeaseRepo(db);
    const deaths: string[] = [];
    const committer = new WorkerCommitter(path, inlineCommitter(repo), (e) => deaths.push(e.message));
    await committer.whenReady();
    const table = new LeaseTable(repo, committer, new ManualClock(), memoryLogger(), 100);
    await (committer as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await new Promise((r) => setTimeout(r, 50));
    await table.bind({ address_int: 5, address: '0.0.0.5', pool: 'admin', mac: '02:00:00:00:00:05', expires_at: Date.now() + 1e9, hostname: null }, false);
    expect(deaths.length).toBe(1);
    expect(repo.get(5)!.mac).toBe('02:00:00:00:00:05');
    await committer.close();
    db.close();
  });
});

describe('ipNum', () => {
  it('parses dotted quads and rejects the rest', () => {
    expect(ipNum('10.0.0.1')).toBe(0x0a000001);
    expect(ipNum('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['10.0.0', '10.0.0.256', '1.2.3.4.5', 'a.b.c.d', '', '1..2.3', '1.2.3.0001']) expect(Number.isNaN(ipNum(bad))).toBe(true);
  });
});

describe('reservations from the node store (cached by generation)', () => {
  it('sees node, MAC and allocation changes on the next event-loop turn', async () => {
    const db = openDatabase(':memory:');
    const nodes = new NodeRepo(db);
    const allocs = new AllocationRepo(db);
    const repo = new DhcpLeaseRepo(db);
    expect(repo.reservationGeneration()).not.toBeNull();
    const r = nodeReservations(repo, [{ start: ipNum('10.0.0.100'), end: ipNum('10.0.0.200') }], memoryLogger());
    const turn = () => new Promise((res) => setImmediate(res));
    const mac = '52:54:00:aa:bb:01';
    expect(r.lookup(mac)).toBeNull();
    const n = nodes.create({ name: 'd52-54-00-aa-bb-01.lab.test', macs: [mac], state: 'discovered', cause: 't' }, 1);
    await turn();
    expect(r.lookup(mac)).toBeNull(); // known node, no allocation yet
    allocs.allocate('admin', n.id, { start: '10.0.0.10', end: '10.0.0.20' }, 1);
    await turn();
    expect(r.lookup(mac)).toEqual({ address: '10.0.0.10', hostname: 'd52-54-00-aa-bb-01' });
    expect(r.isReserved('10.0.0.150')).toBe(false);
    allocs.release(n.id, 'admin');
    allocs.allocate('admin', n.id, { start: '10.0.0.150', end: '10.0.0.150' }, 1);
    await turn();
    expect(r.lookup(mac)!.address).toBe('10.0.0.150');
    expect(r.isReserved('10.0.0.150')).toBe(true);
    nodes.remove(n.id, 't', 2);
    await turn();
    expect(r.lookup(mac)).toBeNull();
    expect(r.isReserved('10.0.0.150')).toBe(false);
    db.close();
  });
});
