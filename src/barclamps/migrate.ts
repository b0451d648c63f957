/**
 * Numbered proposal migrations. A barclamp at proposal_schema_version N ships
 * `migrate/002_<what>.json` .. `migrate/00N_<what>.json`; migration K takes a
 * proposal from schema revision K-1 to K. Migrations are declarative (no code
 * runs inside the appliance at upgrade time):
 *
 *   {"description": "...", "ops": [
 *     {"op": "set",     "path": "attributes.ntp.poll", "value": 6},
 *     {"op": "default", "path": "attributes.ntp.iburst", "value": true},
 *     {"op": "rename",  "from": "attributes.ntp.servers", "to": "attributes.ntp.upstream"},
 *     {"op": "remove",  "path": "attributes.ntp.legacy"}]}
 *
 * Paths are dot-separated keys from the proposal root.
 */
import { CrowbarError } from '../lib/errors.js';

/** One migration operation. */
export type MigrationOp =
  | { op: 'set'; path: string; value: unknown }
  | { op: 'default'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'rename'; from: string; to: string };

/** A numbered migration of a barclamp's proposals. */
export interface ProposalMigration {
  /** Schema revision this migration produces. */
  number: number;
  file: string;
  description: string;
  ops: MigrationOp[];
}

/** Migration file names: NNN_name.json. */
export const MIGRATION_FILE = /^(\d{3})_([A-Za-z0-9_-]+)\.json$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkPath(p: unknown, where: string): string {
  if (typeof p !== 'string' || !/^(attributes|deployment)(\.[A-Za-z0-9_-]+)+$/.test(p))
    throw new CrowbarError('bad_request', `${where}: path must be attributes.<...> or deployment.<...> (dot-separated keys), got ${JSON.stringify(p)}`);
  return p;
}

/** Parse and check one migration file's JSON. */
export function parseMigration(file: string, number: number, raw: unknown): ProposalMigration {
  if (!isObj(raw) || !Array.isArray(raw.ops)) throw new CrowbarError('bad_request', `${file}: must be an object with an "ops" list`);
  const ops = raw.ops.map((o, i): MigrationOp => {
    const where = `${file}: ops[${i}]`;
    if (!isObj(o)) throw new CrowbarError('bad_request', `${where}: must be an object`);
    switch (o.op) {
      case 'set':
      case 'default':
        if (!('value' in o)) throw new CrowbarError('bad_request', `${where}: needs a value`);
        return { op: o.op, path: checkPath(o.path, where), value: o.value };
      case 'remove':
        return { op: 'remove', path: checkPath(o.path, where) };
      case 'rename':
        return { op: 'rename', from: checkPath(o.from, where), to: checkPath(o.to, where) };
      default:
        throw new CrowbarError('bad_request', `${where}: unknown op ${JSON.stringify(o.op)} (set, default, remove, rename)`);
    }
  });
  return { number, file, description: typeof raw.description === 'string' ? raw.description : '', ops };
}

function parentOf(root: Record<string, unknown>, path: string, create: boolean): [Record<string, unknown> | undefined, string] {
  const keys = path.split('.');
  let cur: Record<string, unknown> = root;
  for (const k of keys.slice(0, -1)) {
    let next = cur[k];
    if (!isObj(next)) {
      if (!create) return [undefined, keys[keys.length - 1]];
      next = {};
      cur[k] = next;
    }
    cur = next as Record<string, unknown>;
  }
  return [cur, keys[keys.length - 1]];
}

/** Apply one migration to a proposal document (a deep copy is returned). */
export function applyMigration<T extends object>(doc: T, m: ProposalMigration): T {
  const out = structuredClone(doc) as unknown as Record<string, unknown>;
  for (const op of m.ops) {
    switch (op.op) {
      case 'set': {
        const [p, k] = parentOf(out, op.path, true);
        p![k] = structuredClone(op.value);
        break;
      }
      case 'default': {
        const [p, k] = parentOf(out, op.path, true);
        if (!(k in p!)) p![k] = structuredClone(op.value);
        break;
      }
      case 'remove': {
        const [p, k] = parentOf(out, op.path, false);
        if (p) delete p[k];
        break;
      }
      case 'rename': {
        const [p, k] = parentOf(out, op.from, false);
        if (p && k in p) {
          const v = p[k];
          delete p[k];
          const [q, k2] = parentOf(out, op.to, true);
          q![k2] = v;
        }
        break;
      }
    }
  }
  return out as unknown as T;
}

/**
 * Bring a proposal from revision `from` to `to` with the barclamp's
 * migrations. Refuses to go backwards (a proposal written by a newer
 * barclamp) and a missing step.
 */
export function migrateProposal<T extends object>(doc: T, migrations: readonly ProposalMigration[], from: number, to: number): { doc: T; applied: number[] } {
  if (from > to) throw new CrowbarError('conflict', `proposal schema revision ${from} is newer than the barclamp's ${to}; install a newer barclamp`);
  let cur = doc;
  const applied: number[] = [];
  for (let n = from + 1; n <= to; n++) {
    const m = migrations.find((x) => x.number === n);
    if (!m) throw new CrowbarError('internal', `no migration to schema revision ${n}`);
    cur = applyMigration(cur, m);
    applied.push(n);
  }
  return { doc: cur, applied };
}
