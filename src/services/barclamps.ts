/**
 * The registry of barclamps in a running appliance: the ones shipped in the
 * repository's `barclamps/` directory and the ones installed at run time
 * (files under `<data_dir>/barclamps/<name>/`, rows in SQLite). Install and
 * uninstall happen without a restart; installing a barclamp that exists
 * upgrades it and migrates its proposals. Every operation is audited.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lib/clock.js';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { checkArchive, gunzipIfNeeded, writeEntries, DEFAULT_LIMITS, type ArchiveLimits } from '../barclamps/archive.js';
import { contentOf, loadBarclamp, type Barclamp, type ContentBlob } from '../barclamps/bundle.js';
import { orderByDependencies } from '../barclamps/manifest.js';
import { migrateProposal } from '../barclamps/migrate.js';
import { assertProposalValid, type ProposalDoc } from '../barclamps/proposal.js';
import type { BarclampRepo, BarclampRow, ProposalRepo } from '../store/barclamps.js';
import type { EventBus } from './events.js';

/** What an install did. */
export interface InstallResult {
  name: string;
  version: string;
  previous_version: string | null;
  sha256: string;
  migrated: Array<{ proposal: string; from: number; to: number }>;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Barclamp registry with live install/uninstall. */
export class BarclampService {
  private readonly active = new Map<string, Barclamp>();
  private readonly content = new Map<string, ContentBlob>();
  private readonly installDir: string;

  constructor(
    private readonly repo: BarclampRepo,
    private readonly proposals: ProposalRepo,
    private readonly shippedDir: string | null,
    dataDir: string,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly limits: ArchiveLimits = DEFAULT_LIMITS,
  ) {
    this.installDir = join(dataDir, 'barclamps');
  }

  /** Load shipped and installed barclamps; migrate proposals left behind. */
  init(): void {
    mkdirSync(this.installDir, { recursive: true, mode: 0o700 });
    for (const e of readdirSync(this.installDir)) if (e.startsWith('.')) rmSync(join(this.installDir, e), { recursive: true, force: true });
    const rows = new Map(this.repo.list().map((r) => [r.name, r]));
    const now = this.clock.now();
    if (this.shippedDir && existsSync(this.shippedDir)) {
      for (const d of readdirSync(this.shippedDir).sort()) {
        const dir = join(this.shippedDir, d);
        if (!existsSync(join(dir, 'crowbar.yml'))) continue;
        let bc: Barclamp;
        try {
          bc = loadBarclamp(dir);
        } catch (e) {
          this.log.error('shipped barclamp is invalid; skipped', { dir, error: errorMessage(e) });
          continue;
        }
        const row = rows.get(bc.name);
        if (row && (row.status === 'uninstalled' || row.source === 'installed')) continue;
        if (!row || row.tree_sha256 !== bc.tree_sha256 || row.dir !== dir) {
          this.repo.upsert(this.rowOf(bc, 'shipped', bc.tree_sha256, row?.installed_at ?? now, now));
          if (row) this.repo.audit(now, 'system', 'upgrade', bc.name, null, { from: row.version, to: bc.manifest.barclamp.version, source: 'shipped' });
        }
        this.active.set(bc.name, bc);
      }
    }
    for (const row of rows.values()) {
      if (row.source !== 'installed' || row.status !== 'installed') continue;
      try {
        const bc = loadBarclamp(row.dir);
        // Files newer than the row (a crash between the swap and the commit): the files win.
        if (bc.tree_sha256 !== row.tree_sha256) this.repo.upsert({ ...this.rowOf(bc, 'installed', row.sha256, row.installed_at, now), sha256: row.sha256 });
        this.active.set(row.name, bc);
      } catch (e) {
        this.log.error('installed barclamp cannot be loaded; skipped', { barclamp: row.name, dir: row.dir, error: errorMessage(e) });
      }
    }
    try {
      orderByDependencies([...this.active.values()].map((b) => b.manifest));
    } catch (e) {
      this.log.error('barclamp dependencies are broken', { error: errorMessage(e) });
    }
    for (const bc of this.active.values()) {
      try {
        const migrated = this.migrationsFor(bc);
        if (migrated.length) this.repo.tx(() => this.writeMigrated(bc, migrated, 'system'));
      } catch (e) {
        this.log.error('proposal migration failed', { barclamp: bc.name, error: errorMessage(e) });
      }
    }
    this.rebuildContent();
  }

  private rowOf(bc: Barclamp, source: BarclampRow['source'], sha: string, installedAt: number, now: number): BarclampRow {
    return {
      name: bc.name,
      source,
      status: 'installed',
      version: bc.manifest.barclamp.version,
      dir: bc.dir,
      sha256: sha,
      tree_sha256: bc.tree_sha256,
      manifest: JSON.stringify(bc.manifest),
      installed_at: installedAt,
      updated_at: now,
    };
  }

  private rebuildContent(): void {
    this.content.clear();
    for (const bc of this.active.values()) for (const b of contentOf(bc)) this.content.set(b.sha256, b);
  }

  /** Active barclamps in run order. */
  list(): Barclamp[] {
    return [...this.active.values()].sort((a, b) => a.manifest.crowbar.run_order - b.manifest.crowbar.run_order || a.name.localeCompare(b.name));
  }

  /** One active barclamp; not_found otherwise. */
  get(name: string): Barclamp {
    const bc = this.active.get(name);
    if (!bc) throw new CrowbarError('not_found', `barclamp ${name} is not installed`);
    return bc;
  }

  /** True when `name` is active. */
  has(name: string): boolean {
    return this.active.has(name);
  }

  /** The registry row of a barclamp. */
  row(name: string): BarclampRow | undefined {
    return this.repo.get(name);
  }

  /** A content-addressed blob (script or cookbook archive), or undefined. */
  blob(sha: string): ContentBlob | undefined {
    return this.content.get(sha);
  }

  /** Active barclamps that require `name`. */
  dependents(name: string): string[] {
    return this.list()
      .filter((b) => b.manifest.barclamp.requires.includes(name))
      .map((b) => b.name);
  }

  /** Proposals of `bc` migrated to its proposal_schema_version (validated), not yet written. */
  private migrationsFor(bc: Barclamp): Array<{ id: number; name: string; from: number; doc: ProposalDoc; applied: ProposalDoc | null }> {
    const to = bc.manifest.crowbar.proposal_schema_version;
    const out: Array<{ id: number; name: string; from: number; doc: ProposalDoc; applied: ProposalDoc | null }> = [];
    for (const p of this.proposals.list(bc.name)) {
      if (p.schema_revision === to) continue;
      const label = `proposal bc-${bc.name}-${p.name}`;
      const run = (raw: string): ProposalDoc => {
        const { doc } = migrateProposal(JSON.parse(raw) as ProposalDoc, bc.migrations, p.schema_revision, to);
        doc.deployment[bc.name].schema_revision = to;
        try {
          return assertProposalValid(bc, doc);
        } catch (e) {
          throw new CrowbarError('bad_request', `${label} is invalid after migration to schema revision ${to}: ${errorMessage(e)}`, { proposal: p.name });
        }
      };
      out.push({ id: p.id, name: p.name, from: p.schema_revision, doc: run(p.doc), applied: p.applied_doc ? run(p.applied_doc) : null });
    }
    return out;
  }

  private writeMigrated(bc: Barclamp, migrated: ReturnType<BarclampService['migrationsFor']>, actor: string): InstallResult['migrated'] {
    const to = bc.manifest.crowbar.proposal_schema_version;
    const now = this.clock.now();
    for (const m of migrated) {
      this.proposals.setDocs(m.id, JSON.stringify(m.doc), m.applied ? JSON.stringify(m.applied) : null, to, now);
      this.repo.audit(now, actor, 'proposal-migrate', bc.name, m.name, { from: m.from, to });
    }
    return migrated.map((m) => ({ proposal: `bc-${bc.name}-${m.name}`, from: m.from, to }));
  }

  /**
   * Install (or upgrade) a barclamp from a tar or tar.gz archive. Nothing is
   * written unless every archive entry is safe; the barclamp is loaded and
   * checked from a staging directory, its proposals migrated and validated,
   * and only then swapped in.
   */
  install(archive: Buffer, actor: string): InstallResult {
    const sum = sha256(archive);
    const now = this.clock.now();
    let staging: string | null = null;
    try {
      const entries = checkArchive(gunzipIfNeeded(archive, this.limits), this.limits);
      staging = join(this.installDir, `.staging-${randomBytes(8).toString('hex')}`);
      writeEntries(staging, entries);
      const staged = loadBarclamp(staging);
      const name = staged.name;
      const others = [...this.active.values()].filter((b) => b.name !== name).map((b) => b.manifest);
      orderByDependencies([...others, staged.manifest]);
      const prevRow = this.repo.get(name);
      const previous = this.active.get(name);
      const migrated = this.migrationsFor(staged);
      const final = join(this.installDir, name);
      const trash = join(this.installDir, `.old-${randomBytes(8).toString('hex')}`);
      if (existsSync(final)) renameSync(final, trash);
      renameSync(staging, final);
      staging = null;
      rmSync(trash, { recursive: true, force: true });
      const bc = loadBarclamp(final);
      let result!: InstallResult;
      this.repo.tx(() => {
        this.repo.upsert(this.rowOf(bc, 'installed', sum, prevRow?.installed_at ?? now, now));
        const done = this.writeMigrated(bc, migrated, actor);
        this.repo.audit(now, actor, previous ? 'upgrade' : 'install', name, null, {
          version: bc.manifest.barclamp.version,
          previous_version: previous?.manifest.barclamp.version ?? null,
          sha256: sum,
          migrated: done,
        });
        result = { name, version: bc.manifest.barclamp.version, previous_version: previous?.manifest.barclamp.version ?? null, sha256: sum, migrated: done };
      });
      this.active.set(name, bc);
      this.rebuildContent();
      this.log.info(previous ? 'barclamp upgraded' : 'barclamp installed', { barclamp: name, version: result.version, sha256: sum, actor });
      this.bus.publish({ type: 'barclamp.installed', at: now, data: { ...result } });
      return result;
    } catch (e) {
      if (staging) rmSync(staging, { recursive: true, force: true });
      this.repo.audit(now, actor, 'install-refused', '?', null, { sha256: sum, error: errorMessage(e) });
      this.log.warn('barclamp install refused', { sha256: sum, actor, error: errorMessage(e) });
      throw e;
    }
  }

  /**
   * Uninstall a barclamp: refused while another barclamp requires it or one
   * of its proposals is applied, queued or committing. Its draft and failed
   * proposals are deleted with it.
   */
  uninstall(name: string, actor: string): { name: string; deleted_proposals: string[] } {
    const bc = this.get(name);
    const deps = this.dependents(name);
    if (deps.length) throw new CrowbarError('conflict', `barclamp ${name} is required by ${deps.join(', ')}; uninstall those first`, { required_by: deps });
    const props = this.proposals.list(name);
    const busy = props.filter((p) => p.status === 'applied' || p.status === 'queued' || p.status === 'committing');
    if (busy.length)
      throw new CrowbarError('conflict', `barclamp ${name} has ${busy.map((p) => `proposal bc-${name}-${p.name} (${p.status})`).join(', ')}; delete or dequeue them first`, {
        proposals: busy.map((p) => p.name),
      });
    const now = this.clock.now();
    const row = this.repo.get(name);
    this.repo.tx(() => {
      for (const p of props) this.proposals.remove(p.id);
      if (row) this.repo.upsert({ ...row, status: 'uninstalled', updated_at: now });
      this.repo.audit(now, actor, 'uninstall', name, null, { version: bc.manifest.barclamp.version, deleted_proposals: props.map((p) => p.name) });
    });
    this.active.delete(name);
    this.rebuildContent();
    if (row?.source === 'installed') {
      const trash = join(this.installDir, `.old-${randomBytes(8).toString('hex')}`);
      if (existsSync(row.dir)) renameSync(row.dir, trash);
      rmSync(trash, { recursive: true, force: true });
    }
    this.log.info('barclamp uninstalled', { barclamp: name, actor });
    this.bus.publish({ type: 'barclamp.uninstalled', at: now, data: { name } });
    return { name, deleted_proposals: props.map((p) => p.name) };
  }
}
