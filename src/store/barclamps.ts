/**
 * Barclamp registry rows, proposals and the barclamp audit trail
 * (migration 4). Documents are stored as JSON text; the services layer owns
 * their meaning.
 */
import { immediateRunner, preparedCache, type Db, type Immediate, type Prepare } from './db.js';
import { CrowbarError } from '../lib/errors.js';

/** A registry row. */
export interface BarclampRow {
  name: string;
  source: 'shipped' | 'installed';
  status: 'installed' | 'uninstalled';
  version: string;
  dir: string;
  sha256: string;
  tree_sha256: string;
  manifest: string;
  installed_at: number;
  updated_at: number;
}

/** Proposal status (design.md §3). */
export type ProposalStatus = 'draft' | 'queued' | 'committing' | 'applied' | 'failed';

/** A stored proposal. */
export interface ProposalRow {
  id: number;
  barclamp: string;
  name: string;
  status: ProposalStatus;
  doc: string;
  applied_doc: string | null;
  schema_revision: number;
  revision: number;
  status_reason: string | null;
  created_at: number;
  updated_at: number;
  queued_at: number | null;
  applied_at: number | null;
}

/** One audit record. */
export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  barclamp: string;
  proposal: string | null;
  detail: string;
}

/** Data access for the barclamp registry and audit trail. */
export class BarclampRepo {
  private readonly sql: Prepare;

  private readonly immediate: Immediate;

  constructor(db: Db) {
    this.sql = preparedCache(db);
    this.immediate = immediateRunner(db);
  }

  /** All rows (installed and tombstoned). */
  list(): BarclampRow[] {
    return this.sql<[], BarclampRow>('SELECT * FROM barclamps ORDER BY name').all();
  }

  /** One row. */
  get(name: string): BarclampRow | undefined {
    return this.sql<[string], BarclampRow>('SELECT * FROM barclamps WHERE name = ?').get(name);
  }

  /** Insert or replace a row. */
  upsert(r: BarclampRow): void {
    this.sql(
        `INSERT INTO barclamps (name, source, status, version, dir, sha256, tree_sha256, manifest, installed_at, updated_at)
         VALUES (@name, @source, @status, @version, @dir, @sha256, @tree_sha256, @manifest, @installed_at, @updated_at)
         ON CONFLICT(name) DO UPDATE SET source = @source, status = @status, version = @version, dir = @dir, sha256 = @sha256,
           tree_sha256 = @tree_sha256, manifest = @manifest, updated_at = @updated_at`,
      )
      .run(r);
  }

  /** Delete a row. */
  remove(name: string): void {
    this.sql('DELETE FROM barclamps WHERE name = ?').run(name);
  }

  /** Append an audit record. */
  audit(at: number, actor: string, action: string, barclamp: string, proposal: string | null, detail: Record<string, unknown>): void {
    this.sql('INSERT INTO barclamp_audit (at, actor, action, barclamp, proposal, detail) VALUES (?, ?, ?, ?, ?, ?)').run(at, actor, action, barclamp, proposal, JSON.stringify(detail));
  }

  /** Latest audit records, newest first. */
  auditLog(limit = 200, barclamp?: string): AuditRow[] {
    return barclamp
      ? this.sql<[string, number], AuditRow>('SELECT * FROM barclamp_audit WHERE barclamp = ? ORDER BY id DESC LIMIT ?').all(barclamp, limit)
      : this.sql<[number], AuditRow>('SELECT * FROM barclamp_audit ORDER BY id DESC LIMIT ?').all(limit);
  }

  /** Run `fn` in one immediate transaction. */
  tx<T>(fn: () => T): T {
    return this.immediate(fn);
  }
}

/** Data access for proposals. */
export class ProposalRepo {
  private readonly sql: Prepare;

  constructor(db: Db) {
    this.sql = preparedCache(db);
  }

  /** Proposals, optionally of one barclamp. */
  list(barclamp?: string): ProposalRow[] {
    return barclamp
      ? this.sql<[string], ProposalRow>('SELECT * FROM proposals WHERE barclamp = ? ORDER BY name').all(barclamp)
      : this.sql<[], ProposalRow>('SELECT * FROM proposals ORDER BY barclamp, name').all();
  }

  /** Proposals in a status, oldest queued first. */
  inStatus(status: ProposalStatus): ProposalRow[] {
    return this.sql<[string], ProposalRow>('SELECT * FROM proposals WHERE status = ? ORDER BY queued_at, id').all(status);
  }

  /** One proposal. */
  get(barclamp: string, name: string): ProposalRow | undefined {
    return this.sql<[string, string], ProposalRow>('SELECT * FROM proposals WHERE barclamp = ? AND name = ?').get(barclamp, name);
  }

  /** Create; `conflict` when the name is taken. */
  create(barclamp: string, name: string, doc: string, schemaRevision: number, now: number): ProposalRow {
    if (this.get(barclamp, name)) throw new CrowbarError('conflict', `proposal bc-${barclamp}-${name} already exists`);
    this.sql('INSERT INTO proposals (barclamp, name, status, doc, schema_revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(barclamp, name, 'draft', doc, schemaRevision, now, now);
    return this.get(barclamp, name)!;
  }

  /** Replace the edited document (bumps revision). */
  setDoc(id: number, doc: string, schemaRevision: number, now: number): void {
    this.sql('UPDATE proposals SET doc = ?, schema_revision = ?, revision = revision + 1, updated_at = ? WHERE id = ?').run(doc, schemaRevision, now, id);
  }

  /** Replace both documents (migration on upgrade). */
  setDocs(id: number, doc: string, appliedDoc: string | null, schemaRevision: number, now: number): void {
    this.sql('UPDATE proposals SET doc = ?, applied_doc = ?, schema_revision = ?, updated_at = ? WHERE id = ?').run(doc, appliedDoc, schemaRevision, now, id);
  }

  /** Change status (and its reason). */
  setStatus(id: number, status: ProposalStatus, reason: string | null, now: number): void {
    // A proposal re-queued keeps its place (first queued_at) in the queue.
    this.sql("UPDATE proposals SET status = ?, status_reason = ?, queued_at = CASE WHEN ? = 'queued' THEN COALESCE(queued_at, ?) ELSE NULL END, updated_at = ? WHERE id = ?")
      .run(status, reason, status, now, now, id);
  }

  /** Record a successful apply: applied document + status. */
  setApplied(id: number, doc: string, appliedDoc: string, now: number): void {
    this.sql("UPDATE proposals SET status = 'applied', status_reason = NULL, doc = ?, applied_doc = ?, queued_at = NULL, applied_at = ?, updated_at = ? WHERE id = ?")
      .run(doc, appliedDoc, now, now, id);
  }

  /** Delete a proposal. */
  remove(id: number): void {
    this.sql('DELETE FROM proposals WHERE id = ?').run(id);
  }
}
