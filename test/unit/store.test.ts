import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, schemaVersion } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { NodeRepo, nodeJson } from '../../src/store/nodes.js';
import { AllocationRepo } from '../../src/store/allocations.js';
import { TokenRepo } from '../../src/store/tokens.js';
import { AgentTokenRepo, LAST_USED_RESOLUTION_MS } from '../../src/store/agent-tokens.js';
import { isCrowbarError } from '../../src/lib/errors.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cb-store-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

describe('database', () => {
  it('creates the schema at the latest version with WAL and FULL sync', () => {
    const db = openDatabase(join(tmp(), 'c.db'));
    expect(schemaVersion(db)).toBe(MIGRATIONS[MIGRATIONS.length - 1].version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    db.close();
  });

  it('refuses a database newer than the code and leaves it untouched', () => {
    const path = join(tmp(), 'c.db');
    const raw = new Database(path);
    raw.exec('CREATE TABLE keepme (x); INSERT INTO keepme VALUES (42);');
    raw.pragma('user_version = 999');
    raw.close();
    let err: unknown;
    try {
      openDatabase(path);
    } catch (e) {
      err = e;
    }
    expect(isCrowbarError(err, 'store.too_new')).toBe(true);
    expect((err as Error).message).toMatch(/schema version 999/);
    const again = new Database(path);
    expect(again.prepare('SELECT x FROM keepme').get()).toEqual({ x: 42 });
    expect(again.pragma('user_version', { simple: true })).toBe(999);
    again.close();
  });

  it('refuses a corrupt database with a clear message and never resets it', () => {
    const path = join(tmp(), 'c.db');
    const junk = Buffer.alloc(8192, 0x5a);
    writeFileSync(path, junk);
    let err: unknown;
    try {
      openDatabase(path);
    } catch (e) {
      err = e;
    }
    expect(isCrowbarError(err, 'store.corrupt')).toBe(true);
    expect((err as Error).message).toMatch(/left untouched|integrity|not usable|cannot open/);
    expect(Buffer.compare(readFileSync(path), junk)).toBe(0);
  });
});

describe('node repository', () => {
  it('creates nodes with their first event and refuses a MAC owned by another node', () => {
    const db = openDatabase(':memory:');
    const repo = new NodeRepo(db);
    const a = repo.create({ name: 'a.test', macs: ['52:54:00:00:00:01'], state: 'discovered', cause: 't' }, 1);
    expect(a.macs).toEqual(['52:54:00:00:00:01']);
    expect(repo.events(a.id)).toHaveLength(1);
    expect(() => repo.create({ name: 'b.test', macs: ['52:54:00:00:00:02', '52:54:00:00:00:01'], state: 'discovered', cause: 't' }, 2)).toThrow(/already belongs to node a.test/);
    // Nothing of the refused node was written.
    expect(repo.list().map((n) => n.name)).toEqual(['a.test']);
    expect(repo.getByMac('52:54:00:00:00:02')).toBeUndefined();
  });

  it('transitions atomically with an event and detects a lost race', () => {
    const db = openDatabase(':memory:');
    const repo = new NodeRepo(db);
    const a = repo.create({ name: 'a.test', macs: ['52:54:00:00:00:01'], state: 'discovered', cause: 't' }, 1);
    const b = repo.transition(a.id, 'discovered', 'hardware-installing', 'api', null, 5);
    expect(b.state).toBe('hardware-installing');
    expect(() => repo.transition(a.id, 'discovered', 'problem', 'api', 'x', 6)).toThrow(/is in hardware-installing, not discovered/);
    const ev = repo.events(a.id);
    expect(ev.map((e) => [e.from_state, e.to_state])).toEqual([
      ['discovered', 'hardware-installing'],
      [null, 'discovered'],
    ]);
  });
});

describe('node JSON', () => {
  it('parses inventories only when read, and nodeJson splices the stored text into the same JSON', () => {
    const db = openDatabase(':memory:');
    const repo = new NodeRepo(db);
    const inventory = { cpus: 2, dmi: { vendor: 'Q"uoted', product: 'é' }, disks: [{ name: 'sda' }] };
    repo.create({ name: 'a.test', macs: ['52:54:00:00:00:01'], state: 'discovered', inventory: inventory as never, cause: 't' }, 1);
    const n = repo.list()[0];
    const spliced = nodeJson(n);
    expect(spliced).toContain(`"inventory":${JSON.stringify(inventory)}`);
    expect(JSON.parse(spliced)).toEqual(JSON.parse(JSON.stringify(repo.list()[0])));
    // Once read (and possibly changed in memory), the parsed copy is what is written.
    n.inventory.cpus = 64;
    expect(JSON.parse(nodeJson(n)).inventory.cpus).toBe(64);
    expect(repo.getByName('a.test')!.inventory).toEqual(inventory);
    expect(JSON.parse(JSON.stringify(repo.getByName('a.test'))).inventory).toEqual(inventory);
  });
});

describe('allocations', () => {
  it('gives each node one address, never one address to two nodes, honours suggestions, reports exhaustion', () => {
    const db = openDatabase(':memory:');
    const nodes = new NodeRepo(db);
    const alloc = new AllocationRepo(db);
    const ids = [1, 2, 3, 4].map((i) => nodes.create({ name: `n${i}`, macs: [`52:54:00:00:00:0${i}`], state: 'discovered', cause: 't' }, 1).id);
    const range = { start: '10.0.0.10', end: '10.0.0.12' };
    expect(alloc.allocate('admin', ids[0], range, 1).address).toBe('10.0.0.10');
    expect(alloc.allocate('admin', ids[0], range, 1).address).toBe('10.0.0.10');
    expect(alloc.allocate('admin', ids[1], range, 1, '10.0.0.12').address).toBe('10.0.0.12');
    expect(alloc.allocate('admin', ids[2], range, 1, '10.0.0.12').address).toBe('10.0.0.11');
    expect(() => alloc.allocate('admin', ids[3], range, 1)).toThrow(/no free address/);
    alloc.release(ids[1]);
    expect(alloc.allocate('admin', ids[3], range, 1).address).toBe('10.0.0.12');
    // Dense ranges take the next address after the highest; a hole is still found first, excluded addresses never.
    const wide = { start: '10.0.1.1', end: '10.0.1.20' };
    const more = [5, 6, 7, 8, 9].map((i) => nodes.create({ name: `m${i}`, macs: [`52:54:00:00:01:0${i}`], state: 'discovered', cause: 't' }, 1).id);
    expect(alloc.allocate('wide', more[0], wide, 1, undefined, ['10.0.1.2']).address).toBe('10.0.1.1');
    expect(alloc.allocate('wide', more[1], wide, 1, undefined, ['10.0.1.2']).address).toBe('10.0.1.3');
    expect(alloc.allocate('wide', more[2], wide, 1, undefined, ['10.0.1.2']).address).toBe('10.0.1.4');
    alloc.release(more[1], 'wide');
    expect(alloc.allocate('wide', more[3], wide, 1, undefined, ['10.0.1.2']).address).toBe('10.0.1.3');
    expect(alloc.allocate('wide', more[4], wide, 1, undefined, ['10.0.1.2', '10.0.1.5']).address).toBe('10.0.1.6');
    const addrs = alloc.list('admin').map((a) => a.address);
    expect(new Set(addrs).size).toBe(addrs.length);
  });
});

describe('tokens', () => {
  it('stores only a hash and verifies the secret', () => {
    const db = openDatabase(':memory:');
    const t = new TokenRepo(db);
    const { token } = t.create('admin', 'admin', 1);
    expect(t.verify(token)?.role).toBe('admin');
    expect(t.verify(token + 'x')).toBeUndefined();
    const raw = JSON.stringify(db.prepare('SELECT * FROM api_tokens').all());
    expect(raw).not.toContain(token);
  });
});

describe('agent tokens', () => {
  it('verifies by hash, revokes on reissue, and marks use at most once per resolution', () => {
    const db = openDatabase(':memory:');
    const node = new NodeRepo(db).create({ name: 'a.test', macs: ['52:54:00:00:00:01'], state: 'discovered', cause: 't' }, 1);
    const tokens = new AgentTokenRepo(db);
    const lastUsed = () => (db.prepare('SELECT last_used_at FROM agent_tokens WHERE node_id = ?').get(node.id) as { last_used_at: number | null }).last_used_at;
    const t1 = tokens.issue(node.id, 1000);
    expect(tokens.verify(t1, 2000)).toBe(node.id);
    expect(lastUsed()).toBe(2000);
    // within the resolution: no write
    expect(tokens.verify(t1, 2000 + LAST_USED_RESOLUTION_MS - 1)).toBe(node.id);
    expect(lastUsed()).toBe(2000);
    // past it: written again
    expect(tokens.verify(t1, 2000 + LAST_USED_RESOLUTION_MS)).toBe(node.id);
    expect(lastUsed()).toBe(2000 + LAST_USED_RESOLUTION_MS);
    // a new token replaces the old one
    const t2 = tokens.issue(node.id, 5000);
    expect(tokens.verify(t1, 6000)).toBeUndefined();
    expect(tokens.verify(t2, 6000)).toBe(node.id);
    tokens.revoke(node.id);
    expect(tokens.verify(t2, 7000)).toBeUndefined();
  });
});
