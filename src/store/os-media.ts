/**
 * OS media registry (`os_media`) and the per-node OS choice (`node_os`).
 * Import and serving live in the services layer; this is data access only.
 */
import { preparedCache, type Db, type Prepare } from './db.js';
import { OS_FAMILIES, type OsFamily, type OsMedia, type OsMethod } from '../model/os.js';

interface OsRow {
  name: string;
  family: string;
  version: string;
  arch: string;
  method: string;
  dir: string;
  kernel: string | null;
  initrd: string | null;
  image: string | null;
  meta: string;
  imported_at: number;
}

function fromRow(r: OsRow): OsMedia {
  return {
    name: r.name,
    family: (OS_FAMILIES as readonly string[]).includes(r.family) ? (r.family as OsFamily) : 'debian',
    version: r.version,
    arch: r.arch,
    method: r.method as OsMethod,
    dir: r.dir,
    kernel: r.kernel,
    initrd: r.initrd,
    image: r.image,
    meta: JSON.parse(r.meta) as Record<string, unknown>,
    imported_at: r.imported_at,
  };
}

/** Data access for OS media and per-node OS choices. */
export class OsMediaRepo {
  private readonly sql: Prepare;

  constructor(db: Db) {
    this.sql = preparedCache(db);
  }

  /** Insert or replace a medium (re-importing the same name replaces it). */
  put(m: OsMedia): void {
    this.sql('INSERT OR REPLACE INTO os_media (name, family, version, arch, method, dir, kernel, initrd, image, meta, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(m.name, m.family, m.version, m.arch, m.method, m.dir, m.kernel, m.initrd, m.image, JSON.stringify(m.meta), m.imported_at);
  }

  /** A medium by name. */
  get(name: string): OsMedia | undefined {
    const r = this.sql<[string], OsRow>('SELECT * FROM os_media WHERE name = ?').get(name);
    return r ? fromRow(r) : undefined;
  }

  /** All media, by name. */
  list(): OsMedia[] {
    return this.sql<[], OsRow>('SELECT * FROM os_media ORDER BY name').all().map(fromRow);
  }

  /** Remove a medium; false when there was none. Nodes that chose it keep their choice (and fail to boot it with a clear reason). */
  remove(name: string): boolean {
    return this.sql('DELETE FROM os_media WHERE name = ?').run(name).changes === 1;
  }

  /** The operator's OS choice for a node, or null (use the provisioner default). */
  choiceOf(nodeId: number): string | null {
    const r = this.sql<[number], { os: string }>('SELECT os FROM node_os WHERE node_id = ?').get(nodeId);
    return r?.os ?? null;
  }

  /** Set (or with null clear) a node's OS choice. */
  setChoice(nodeId: number, os: string | null, now: number): void {
    if (os === null) this.sql('DELETE FROM node_os WHERE node_id = ?').run(nodeId);
    else this.sql('INSERT OR REPLACE INTO node_os (node_id, os, set_at) VALUES (?, ?, ?)').run(nodeId, os, now);
  }
}
