/**
 * Opening the SQLite database: WAL, durability pragmas (design.md §5),
 * integrity check and numbered migrations. A database that is corrupt or was
 * written by a newer version stops start-up with a clear message; it is never
 * reset.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';

/** The database handle type used across the store. */
export type Db = Database.Database;

/**
 * A statement cache: `sql(text)` prepares `text` on first use and returns the
 * same statement afterwards. Preparing (parse + plan) costs tens of
 * microseconds, which repositories that prepared on every call paid on every
 * agent request (about 10 % of the appliance's CPU at scale,
 * docs/simulator.md). Statements are not re-entrant: never run the statement
 * being iterated again inside its own `iterate()` loop.
 */
export type Prepare = <BindParameters extends unknown[] | {} = unknown[], Result = unknown>(
  source: string,
) => Database.Statement<BindParameters extends unknown[] ? BindParameters : [BindParameters], Result>;

const statementCaches = new WeakMap<Db, Map<string, Database.Statement>>();

/** Runs a function in one IMMEDIATE transaction (a write lock from the start). */
export type Immediate = <T>(fn: () => T) => T;

/**
 * An IMMEDIATE-transaction runner for `db`, built once: building a
 * better-sqlite3 transaction prepares its BEGIN/COMMIT statements, which
 * repositories that wrapped every call paid per call.
 */
export function immediateRunner(db: Db): Immediate {
  const txn = db.transaction((fn: () => unknown) => fn());
  return <T>(fn: () => T): T => txn.immediate(fn) as T;
}

/** The statement cache of `db` (one per database handle, shared by its repositories). */
export function preparedCache(db: Db): Prepare {
  let cache = statementCaches.get(db);
  if (!cache) statementCaches.set(db, (cache = new Map()));
  const c = cache;
  return ((source: string) => {
    let st = c.get(source);
    if (!st) c.set(source, (st = db.prepare(source)));
    return st;
  }) as Prepare;
}

/** Open (creating if needed) and migrate the database at `path`. */
export function openDatabase(path: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path);
  } catch (e) {
    throw new CrowbarError('store.corrupt', `cannot open database ${path}: ${errorMessage(e)}`);
  }
  try {
    db.pragma('journal_mode = WAL');
    // FULL: a commit is on disk (WAL fsync) before the statement returns, so
    // nothing is acknowledged before it is durable.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new CrowbarError('store.corrupt', `database ${path} failed its integrity check: ${String(check)}`);
  } catch (e) {
    db.close();
    if (e instanceof CrowbarError) throw e;
    throw new CrowbarError('store.corrupt', `database ${path} is not usable (${errorMessage(e)}); it was left untouched, restore it from a backup or move it away`);
  }
  try {
    migrate(db, migrations, path);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** Run pending migrations in order, each in its own transaction. */
export function migrate(db: Db, migrations: readonly Migration[], path = 'database'): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  if (version > latest)
    throw new CrowbarError('store.too_new', `${path} has schema version ${version} but this Crowbar knows up to ${latest}; upgrade Crowbar (the database was left untouched)`);
  for (const m of migrations) {
    if (m.version <= version) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

/** Current schema version. */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}
