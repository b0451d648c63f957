import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { OsMedia } from '../../src/model/os.js';
import { OsSelection } from '../../src/services/os-selection.js';
import { openDatabase } from '../../src/store/db.js';
import { NodeRepo } from '../../src/store/nodes.js';
import { OsMediaRepo } from '../../src/store/os-media.js';

const dir = mkdtempSync(join(tmpdir(), 'crowbar-os-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function medium(name: string, method: OsMedia['method']): OsMedia {
  return { name, family: 'debian', version: '12', arch: 'amd64', method, dir: `/srv/${name}`, kernel: null, initrd: null, image: method === 'image' ? 'root.tar.zst' : null, meta: { sha256: 'x' }, imported_at: 5 };
}

describe('OS media registry and per-node selection', () => {
  it('stores media, resolves a per-node choice over the default, prefers images for a prefix, and names what is missing', () => {
    const db = openDatabase(join(dir, 'c.db'));
    const repo = new OsMediaRepo(db);
    const nodes = new NodeRepo(db);
    const n = nodes.create({ name: 'd52-54-00-00-00-01.lab', macs: ['52:54:00:00:00:01'], state: 'discovered', cause: 'test' }, 1);
    let def: string | null = null;
    const sel = new OsSelection(repo, () => def);
    expect(() => sel.mediaFor(n)).toThrow(/no OS chosen/);
    def = 'debian-12';
    expect(() => sel.mediaFor(n)).toThrow(/debian-12 for d52-54-00-00-00-01.lab is not imported/);
    repo.put(medium('debian-12-amd64', 'installer'));
    expect(sel.mediaFor(n).name).toBe('debian-12-amd64');
    repo.put(medium('debian-12-amd64-image', 'image'));
    expect(sel.mediaFor(n).name).toBe('debian-12-amd64-image');
    repo.setChoice(n.id, 'debian-12-amd64', 2);
    expect(sel.mediaFor(n).name).toBe('debian-12-amd64');
    expect(repo.get('debian-12-amd64-image')?.meta).toEqual({ sha256: 'x' });
    repo.setChoice(n.id, null, 3);
    expect(sel.nameFor(n)).toBe('debian-12');
    expect(repo.remove('debian-12-amd64-image')).toBe(true);
    expect(repo.remove('debian-12-amd64-image')).toBe(false);
    expect(repo.list().map((m) => m.name)).toEqual(['debian-12-amd64']);
    db.close();
  });
});
