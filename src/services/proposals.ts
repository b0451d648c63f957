/**
 * The proposals service (design.md §3): create from a barclamp's template
 * (with recommended placement), edit (schema-validated, errors name the
 * field), diff what a commit changes, commit (queued until every node of
 * the proposal is `ready` and every required barclamp has an applied
 * proposal; released by node transitions and by other commits), apply in
 * element_order batches (roles of a batch in parallel), dequeue, delete.
 * "Apply" computes each node's run list and marks element_states; the node
 * agent executes it (GET /api/v1/nodes/{name}/runlist). Node transitions
 * call barclamp hooks in run order.
 */
import type { Clock } from '../lib/clock.js';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Node, NodeState } from '../model/node.js';
import type { Barclamp } from '../barclamps/bundle.js';
import type { SchemaError } from '../barclamps/jsonschema.js';
import { commitPlan, nodesOf, proposalFromTemplate, proposalId, proposalProblems, type CommitPlan, type ProposalDoc } from '../barclamps/proposal.js';
import { computeRunList, type AppliedProposal, type RunList } from '../barclamps/runlist.js';
import type { BarclampRepo, ProposalRepo, ProposalRow, ProposalStatus } from '../store/barclamps.js';
import type { NodeRepo } from '../store/nodes.js';
import type { BarclampService } from './barclamps.js';
import type { BusEvent, EventBus } from './events.js';
import type { BarclampHook } from './hooks.js';
import type { NetworkService } from './network.js';

/** A proposal as the API shows it. */
export interface ProposalView {
  id: string;
  barclamp: string;
  name: string;
  status: ProposalStatus;
  status_reason: string | null;
  revision: number;
  schema_revision: number;
  pending_changes: boolean;
  proposal: ProposalDoc;
  applied: ProposalDoc | null;
  created_at: number;
  updated_at: number;
  queued_at: number | null;
  applied_at: number | null;
}

/** Result of a commit request. */
export interface CommitResult {
  status: ProposalStatus;
  /** Why the commit is queued (empty when applied). */
  waiting_for: string[];
  plan: CommitPlan;
}

/** Appliance facts the run lists need. */
export interface ProposalServiceOptions {
  applianceUrl: string;
  applianceAddress: string;
}

/** Declarative hooks arriving within this window are applied together. */
const HOOK_BATCH_MS = 1000;

/** Orchestrates proposals and the node hooks of barclamps. */
export class ProposalService {
  private readonly hooks = new Map<string, BarclampHook>();
  private chain: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  /** Declarative `add_to_role` hooks not yet applied: barclamp -> node -> roles. */
  private pendingAdds = new Map<string, Map<string, readonly string[]>>();
  /** The queued flush of `pendingAdds` (one at a time). */
  private pendingFlush: Promise<void> | null = null;
  private lastFlushAt = 0;

  constructor(
    private readonly barclamps: BarclampService,
    private readonly repo: ProposalRepo,
    private readonly audit: BarclampRepo,
    private readonly nodes: NodeRepo,
    private readonly network: NetworkService | null,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: ProposalServiceOptions,
  ) {}

  /** Register a built-in barclamp hook. */
  registerHook(h: BarclampHook): void {
    this.hooks.set(h.barclamp, h);
  }

  /**
   * Subscribe to node events (hooks, queue release) and recover proposals
   * left `committing` by a crash (they become `failed` with the reason).
   */
  start(): void {
    for (const p of this.repo.inStatus('committing')) this.repo.setStatus(p.id, 'failed', 'appliance restarted while the proposal was committing; commit it again', this.clock.now());
    this.unsubscribe ??= this.bus.subscribe((e) => this.onEvent(e));
    // Commits queued before a restart may be releasable now.
    void this.releaseQueued().catch((e) => this.log.warn('queue release failed', { error: errorMessage(e) }));
  }

  /** Unsubscribe from the bus. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Wait until queued work (commits, releases, hooks) is done (tests, shutdown). */
  async idle(): Promise<void> {
    let last: Promise<unknown>;
    do {
      while (this.pendingFlush) await this.pendingFlush;
      last = this.chain;
      await last.catch(() => {});
    } while (last !== this.chain || this.pendingFlush);
  }

  private locked<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  private row(bc: string, name: string): ProposalRow {
    this.barclamps.get(bc);
    const r = this.repo.get(bc, name);
    if (!r) throw new CrowbarError('not_found', `proposal ${proposalId(bc, name)} not found`);
    return r;
  }

  private view(r: ProposalRow): ProposalView {
    const doc = JSON.parse(r.doc) as ProposalDoc;
    const applied = r.applied_doc ? (JSON.parse(r.applied_doc) as ProposalDoc) : null;
    return {
      id: proposalId(r.barclamp, r.name),
      barclamp: r.barclamp,
      name: r.name,
      status: r.status,
      status_reason: r.status_reason,
      revision: r.revision,
      schema_revision: r.schema_revision,
      pending_changes: applied === null || commitPlan(applied, doc, r.barclamp).changes.length > 0,
      proposal: doc,
      applied,
      created_at: r.created_at,
      updated_at: r.updated_at,
      queued_at: r.queued_at,
      applied_at: r.applied_at,
    };
  }

  /** Proposals (of one barclamp, or all of active barclamps). */
  list(bc?: string): ProposalView[] {
    if (bc) this.barclamps.get(bc);
    return this.repo
      .list(bc)
      .filter((r) => this.barclamps.has(r.barclamp))
      .map((r) => this.view(r));
  }

  /** One proposal. */
  get(bc: string, name: string): ProposalView {
    return this.view(this.row(bc, name));
  }

  private readyNodes(): string[] {
    return this.nodes
      .listInStates(['ready'])
      .sort((a, b) => a.id - b.id)
      .map((n) => n.name);
  }

  /** All problems of a proposal document (schema, structure, barclamp hook, unknown nodes). */
  problems(bc: Barclamp, doc: unknown): SchemaError[] {
    const errors = proposalProblems(bc, doc);
    if (errors.length) return errors;
    const d = doc as ProposalDoc;
    const hook = this.hooks.get(bc.name);
    if (hook?.validateProposal) errors.push(...hook.validateProposal(d));
    for (const [role, nodes] of Object.entries(d.deployment[bc.name].elements))
      nodes.forEach((n, i) => {
        if (!this.nodes.exists(n)) errors.push({ path: `deployment.${bc.name}.elements.${role}[${i}]`, message: `unknown node ${JSON.stringify(n)}` });
      });
    return errors;
  }

  private assertValid(bc: Barclamp, doc: unknown): ProposalDoc {
    const errors = this.problems(bc, doc);
    if (errors.length)
      throw new CrowbarError('bad_request', `proposal invalid: ${errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; ')}`, { errors });
    return doc as ProposalDoc;
  }

  /** Create a proposal from the barclamp's template (placement recommended from ready nodes). */
  create(bcName: string, name: string, actor: string, description?: string): ProposalView {
    const bc = this.barclamps.get(bcName);
    const doc = proposalFromTemplate(bc, name, this.readyNodes());
    if (description !== undefined) doc.description = description;
    this.hooks.get(bc.name)?.prepareProposal?.(doc);
    this.assertValid(bc, doc);
    const r = this.repo.create(bc.name, name, JSON.stringify(doc), bc.manifest.crowbar.proposal_schema_version, this.clock.now());
    this.audit.audit(this.clock.now(), actor, 'proposal-create', bc.name, name, { elements: doc.deployment[bc.name].elements });
    return this.view(r);
  }

  /**
   * Replace a proposal's document (attributes, deployment, description).
   * Run-time element_states are the server's and are ignored; refused while
   * the proposal is queued or committing.
   */
  edit(bcName: string, name: string, input: unknown, actor: string): Promise<ProposalView> {
    return this.locked(() => {
      const bc = this.barclamps.get(bcName);
      const r = this.row(bcName, name);
      if (r.status === 'queued' || r.status === 'committing') throw new CrowbarError('conflict', `proposal ${proposalId(bcName, name)} is ${r.status}; dequeue it before editing`);
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new CrowbarError('bad_request', 'proposal: must be a JSON object');
      const doc = structuredClone(input) as ProposalDoc & Record<string, unknown>;
      const id = proposalId(bcName, name);
      if (doc.id !== undefined && doc.id !== id) throw new CrowbarError('bad_request', `id: must be ${JSON.stringify(id)}, got ${JSON.stringify(doc.id)}`);
      doc.id = id;
      const current = JSON.parse(r.doc) as ProposalDoc;
      if (doc.description === undefined) doc.description = current.description;
      const dep = (doc.deployment as unknown as Record<string, Record<string, unknown>> | undefined)?.[bcName];
      if (dep && typeof dep === 'object') {
        delete dep.element_states;
        if (dep.schema_revision === undefined) dep.schema_revision = r.schema_revision;
        else if (dep.schema_revision !== r.schema_revision)
          throw new CrowbarError('conflict', `deployment.${bcName}.schema_revision: proposal is at schema revision ${r.schema_revision}, the edit was made against ${String(dep.schema_revision)}`);
      }
      this.assertValid(bc, doc);
      this.repo.setDoc(r.id, JSON.stringify(doc), r.schema_revision, this.clock.now());
      this.audit.audit(this.clock.now(), actor, 'proposal-edit', bcName, name, { changes: commitPlan(current, doc, bcName).changes.length });
      return this.view(this.row(bcName, name));
    });
  }

  /** What committing the proposal would change (against what is applied). */
  diff(bcName: string, name: string): CommitPlan & { problems: SchemaError[]; waiting_for: string[] } {
    const bc = this.barclamps.get(bcName);
    const r = this.row(bcName, name);
    const doc = JSON.parse(r.doc) as ProposalDoc;
    const applied = r.applied_doc ? (JSON.parse(r.applied_doc) as ProposalDoc) : null;
    return { ...commitPlan(applied, doc, bcName), problems: this.problems(bc, doc), waiting_for: this.blockers(bc, doc) };
  }

  /** Why a commit of `doc` cannot run now (empty when it can). */
  private blockers(bc: Barclamp, doc: ProposalDoc): string[] {
    const out: string[] = [];
    for (const req of bc.manifest.barclamp.requires) {
      if (!this.barclamps.has(req)) out.push(`barclamp ${req} is not installed`);
      else if (!this.repo.list(req).some((p) => p.applied_doc !== null && p.status !== 'committing')) out.push(`barclamp ${req} has no applied proposal`);
    }
    for (const n of nodesOf(doc, bc.name)) {
      const node = this.nodes.getByName(n);
      if (!node) out.push(`node ${n} does not exist`);
      // A node in `problem` does not block: committing a fixed proposal is how a failed role is repaired
      // (its join agent re-applies the new run list, docs/image-install.md).
      else if (node.state !== 'ready' && node.state !== 'problem') out.push(`node ${n} is ${node.state}, not ready`);
    }
    return out;
  }

  /**
   * Commit: validate, then apply now when every node is ready and every
   * required barclamp has an applied proposal, else queue it (released
   * automatically when that changes).
   */
  commit(bcName: string, name: string, actor: string): Promise<CommitResult> {
    return this.locked(async () => {
      const bc = this.barclamps.get(bcName);
      const r = this.row(bcName, name);
      if (r.status === 'committing') throw new CrowbarError('conflict', `proposal ${proposalId(bcName, name)} is already committing`);
      const doc = this.assertValid(bc, JSON.parse(r.doc));
      const applied = r.applied_doc ? (JSON.parse(r.applied_doc) as ProposalDoc) : null;
      const plan = commitPlan(applied, doc, bcName);
      const waiting = this.blockers(bc, doc);
      if (waiting.length) {
        this.repo.setStatus(r.id, 'queued', `waiting for: ${waiting.join('; ')}`, this.clock.now());
        this.audit.audit(this.clock.now(), actor, 'proposal-queue', bcName, name, { waiting_for: waiting });
        this.bus.publish({ type: 'proposal.queued', at: this.clock.now(), data: { proposal: proposalId(bcName, name), waiting_for: waiting } });
        return { status: 'queued' as const, waiting_for: waiting, plan };
      }
      const status = await this.apply(bc, r, doc, actor);
      if (status === 'applied') await this.releaseQueuedLocked();
      return { status, waiting_for: [], plan };
    });
  }

  /** Apply a proposal's roles batch by batch; returns the final status. */
  private async apply(bc: Barclamp, r: ProposalRow, doc: ProposalDoc, actor: string): Promise<ProposalStatus> {
    const id = proposalId(bc.name, r.name);
    const now = () => this.clock.now();
    const previous = r.applied_doc ? (JSON.parse(r.applied_doc) as ProposalDoc) : null;
    const dep = doc.deployment[bc.name];
    this.repo.setStatus(r.id, 'committing', null, now());
    const states: Record<string, Record<string, string>> = {};
    for (const [role, ns] of Object.entries(dep.elements)) states[role] = Object.fromEntries(ns.map((n) => [n, 'pending']));
    try {
      const nodes = nodesOf(doc, bc.name).map((n) => {
        const node = this.nodes.getByName(n);
        if (!node) throw new CrowbarError('not_found', `node ${n} not found`);
        return node;
      });
      await this.hooks.get(bc.name)?.beforeApply?.(doc, nodes);
      for (const [bi, batch] of dep.element_order.entries()) {
        // Roles of one batch are applied in parallel; batches in order.
        await Promise.all(
          batch.map(async (role) => {
            for (const n of dep.elements[role] ?? []) states[role][n] = 'applying';
            for (const n of dep.elements[role] ?? []) states[role][n] = 'applied';
          }),
        );
        this.bus.publish({ type: 'proposal.batch', at: now(), data: { proposal: id, batch: bi, roles: batch, nodes: batch.flatMap((role) => dep.elements[role] ?? []) } });
      }
      dep.element_states = states;
      const text = JSON.stringify(doc);
      this.audit.tx(() => {
        this.repo.setApplied(r.id, text, text, now());
        this.audit.audit(now(), actor, 'proposal-apply', bc.name, r.name, { nodes: nodesOf(doc, bc.name), batches: dep.element_order });
      });
      const touched = new Set([...nodesOf(doc, bc.name), ...(previous ? nodesOf(previous, bc.name) : [])]);
      for (const n of touched) this.bus.publish({ type: 'runlist.changed', at: now(), data: { node: n, proposal: id } });
      this.bus.publish({ type: 'proposal.applied', at: now(), data: { proposal: id } });
      this.log.info('proposal applied', { proposal: id, nodes: touched.size });
      return 'applied';
    } catch (e) {
      this.repo.setStatus(r.id, 'failed', errorMessage(e), now());
      this.audit.audit(now(), actor, 'proposal-fail', bc.name, r.name, { error: errorMessage(e) });
      this.bus.publish({ type: 'proposal.failed', at: now(), data: { proposal: id, error: errorMessage(e) } });
      this.log.warn('proposal apply failed', { proposal: id, error: errorMessage(e) });
      return 'failed';
    }
  }

  /** Try queued proposals (barclamp run order, then queue order) until none can go. */
  private async releaseQueuedLocked(): Promise<void> {
    for (;;) {
      const queued = this.repo
        .inStatus('queued')
        .filter((r) => this.barclamps.has(r.barclamp))
        .sort((a, b) => this.barclamps.get(a.barclamp).manifest.crowbar.run_order - this.barclamps.get(b.barclamp).manifest.crowbar.run_order || (a.queued_at ?? 0) - (b.queued_at ?? 0));
      let progressed = false;
      for (const r of queued) {
        const bc = this.barclamps.get(r.barclamp);
        const doc = JSON.parse(r.doc) as ProposalDoc;
        const waiting = this.blockers(bc, doc);
        if (waiting.length) {
          const reason = `waiting for: ${waiting.join('; ')}`;
          if (reason !== r.status_reason) this.repo.setStatus(r.id, 'queued', reason, this.clock.now());
          continue;
        }
        this.log.info('queued proposal released', { proposal: proposalId(r.barclamp, r.name) });
        await this.apply(bc, r, doc, 'queue');
        progressed = true;
        break;
      }
      if (!progressed) return;
    }
  }

  /** Re-check the queue (after node transitions). */
  releaseQueued(): Promise<void> {
    return this.locked(() => this.releaseQueuedLocked());
  }

  /** Take a queued proposal out of the queue. */
  dequeue(bcName: string, name: string, actor: string): Promise<ProposalView> {
    return this.locked(() => {
      const r = this.row(bcName, name);
      if (r.status !== 'queued') throw new CrowbarError('conflict', `proposal ${proposalId(bcName, name)} is ${r.status}, not queued`);
      this.repo.setStatus(r.id, r.applied_doc ? 'applied' : 'draft', null, this.clock.now());
      this.audit.audit(this.clock.now(), actor, 'proposal-dequeue', bcName, name, {});
      return this.view(this.row(bcName, name));
    });
  }

  /** Delete a proposal (an applied one's roles leave the nodes' run lists). */
  delete(bcName: string, name: string, actor: string): Promise<{ deleted: string }> {
    return this.locked(() => {
      const r = this.row(bcName, name);
      if (r.status === 'queued' || r.status === 'committing') throw new CrowbarError('conflict', `proposal ${proposalId(bcName, name)} is ${r.status}; dequeue it first`);
      const applied = r.applied_doc ? (JSON.parse(r.applied_doc) as ProposalDoc) : null;
      this.repo.remove(r.id);
      this.audit.audit(this.clock.now(), actor, 'proposal-delete', bcName, name, { was: r.status });
      const id = proposalId(bcName, name);
      if (applied) for (const n of nodesOf(applied, bcName)) this.bus.publish({ type: 'runlist.changed', at: this.clock.now(), data: { node: n, proposal: id } });
      return { deleted: id };
    });
  }

  /** Per-node role states of a proposal. */
  status(bcName: string, name: string): { proposal: string; status: ProposalStatus; reason: string | null; nodes: Record<string, Record<string, string>> } {
    const r = this.row(bcName, name);
    const doc = JSON.parse(r.applied_doc ?? r.doc) as ProposalDoc;
    const dep = doc.deployment[bcName];
    const nodes: Record<string, Record<string, string>> = {};
    for (const [role, ns] of Object.entries(dep.elements)) for (const n of ns) (nodes[n] ??= {})[role] = dep.element_states?.[role]?.[n] ?? (r.applied_doc ? 'applied' : 'proposed');
    return { proposal: proposalId(bcName, name), status: r.status, reason: r.status_reason, nodes };
  }

  /** The run list of a node (roles of applied proposals). */
  runList(nodeName: string): RunList {
    const node = this.nodes.getByName(nodeName) ?? (/^\d+$/.test(nodeName) ? this.nodes.get(Number(nodeName)) : undefined);
    if (!node) throw new CrowbarError('not_found', `node ${nodeName} not found`);
    const applied: AppliedProposal[] = [];
    const rows = this.repo.list();
    for (const bc of this.barclamps.list())
      for (const r of rows) if (r.barclamp === bc.name && r.applied_doc) applied.push({ barclamp: bc, name: r.name, doc: JSON.parse(r.applied_doc) as ProposalDoc });
    const attrs = this.network?.attributes();
    let network: { interfaces: Array<Record<string, unknown>>; conduits?: unknown; error?: string } | null = null;
    const addresses = this.network ? this.network.addressesOf(node) : {};
    if (this.network) {
      try {
        const plan = this.network.planFor(node, attrs);
        network = { conduits: plan.conduits, interfaces: plan.interfaces as unknown as Array<Record<string, unknown>> };
      } catch (e) {
        network = { interfaces: [], error: errorMessage(e) };
      }
    }
    const extra: Record<string, string> = {};
    const admin = this.network ? this.network.adminAddresses() : new Map<string, string>();
    if (this.network) {
      for (const [net, def] of Object.entries(attrs!.networks)) {
        if (def.conduit !== 'bmc' || !addresses[net]) continue;
        const k = net.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
        extra[`CB_NET_${k}_NETMASK`] = def.netmask;
        extra[`CB_NET_${k}_ROUTER`] = def.router ?? '';
      }
    }
    return computeRunList(
      applied,
      {
        node: node.name,
        applianceUrl: this.opts.applianceUrl,
        applianceAddress: this.opts.applianceAddress,
        addressOf: (n) => admin.get(n) ?? null,
        addresses,
        network,
      },
      extra,
    );
  }

  /**
   * The node agent's report after running its run list: each role's outcome
   * becomes the node's element_state (`ready` or `failed`) in the applied
   * proposal. Reports for roles the node does not hold are refused.
   */
  report(nodeName: string, results: ReadonlyArray<{ barclamp: string; proposal: string; role: string; status: 'ready' | 'failed'; message?: string }>, actor: string): Promise<{ updated: number }> {
    return this.locked(() => {
      const node = this.nodes.getByName(nodeName);
      if (!node) throw new CrowbarError('not_found', `node ${nodeName} not found`);
      // Each proposal's documents are parsed and written once for all of its roles in the
      // report, and the whole report is one transaction (the documents grow with the number of nodes).
      const touched = new Map<number, { row: ProposalRow; doc: ProposalDoc; applied: ProposalDoc }>();
      const failed: Array<{ barclamp: string; proposal: string; detail: Record<string, unknown> }> = [];
      for (const [i, r] of results.entries()) {
        const found = this.repo.get(r.barclamp, r.proposal);
        let t = found ? touched.get(found.id) : undefined;
        if (found && !t && found.applied_doc) {
          t = { row: found, doc: JSON.parse(found.doc) as ProposalDoc, applied: JSON.parse(found.applied_doc) as ProposalDoc };
          touched.set(found.id, t);
        }
        const dep = t?.applied.deployment[r.barclamp];
        if (!t || !dep || !(dep.elements[r.role] ?? []).includes(node.name))
          throw new CrowbarError('bad_request', `results[${i}]: node ${node.name} has no role ${r.role} in an applied proposal ${proposalId(r.barclamp, r.proposal)}`);
        const set = (d: ProposalDoc) => {
          const states = (d.deployment[r.barclamp].element_states ??= {});
          (states[r.role] ??= {})[node.name] = r.status;
        };
        set(t.applied);
        if (t.doc.deployment[r.barclamp]) set(t.doc);
        if (r.status === 'failed') failed.push({ barclamp: r.barclamp, proposal: r.proposal, detail: { node: node.name, role: r.role, message: r.message ?? '' } });
      }
      const now = this.clock.now();
      this.audit.tx(() => {
        for (const t of touched.values()) this.repo.setDocs(t.row.id, JSON.stringify(t.doc), JSON.stringify(t.applied), t.row.schema_revision, now);
        for (const f of failed) this.audit.audit(now, actor, 'role-failed', f.barclamp, f.proposal, f.detail);
      });
      const updated = results.length;
      this.bus.publish({ type: 'runlist.reported', at: this.clock.now(), data: { node: node.name, results: results.map((r) => ({ role: r.role, status: r.status })) } });
      return { updated };
    });
  }

  private onEvent(e: BusEvent): void {
    if (e.type !== 'node.transition' && e.type !== 'node.created') return;
    const name = String(e.data.node ?? '');
    const to = String(e.type === 'node.created' ? e.data.state : e.data.to) as NodeState;
    const from = e.type === 'node.created' ? null : (String(e.data.from) as NodeState);
    const node = this.nodes.getByName(name);
    if (!node) return;
    this.runHooks(node, from, to);
    if (to === 'ready') void this.releaseQueued().catch((err) => this.log.warn('queue release failed', { error: errorMessage(err) }));
    if (to === 'delete') void this.locked(() => this.dropNode(node.name)).catch((err) => this.log.warn('removing node from proposals failed', { error: errorMessage(err) }));
  }

  /**
   * Hooks of every active barclamp in run order: built-in hooks synchronously
   * (before the transition's effects run), declarative `add_to_role` hooks
   * through the proposal lock.
   */
  private runHooks(node: Node, from: NodeState | null, to: NodeState): void {
    for (const bc of this.barclamps.list()) {
      const h = this.hooks.get(bc.name);
      if (h?.onNodeTransition) {
        try {
          const r = h.onNodeTransition(node, from, to);
          if (r instanceof Promise) r.catch((e) => this.log.warn('barclamp hook failed', { barclamp: bc.name, node: node.name, error: errorMessage(e) }));
        } catch (e) {
          this.log.warn('barclamp hook failed', { barclamp: bc.name, node: node.name, error: errorMessage(e) });
        }
      }
      const decl = bc.manifest.hooks[to];
      if (decl && decl.add_to_role.length) this.queueAdd(bc.name, node.name, decl.add_to_role);
    }
  }

  /**
   * Queue a declarative `add_to_role` hook. Hooks that arrive while the
   * proposal lock is busy (a rack reaching `ready` together) are applied
   * together: one re-apply per proposal for the whole batch, not one per node
   * (which made a rack of N nodes cost N applies of N nodes each).
   */
  private queueAdd(bc: string, node: string, roles: readonly string[]): void {
    let m = this.pendingAdds.get(bc);
    if (!m) this.pendingAdds.set(bc, (m = new Map()));
    m.set(node, roles);
    if (this.pendingFlush) return;
    // The first hook after a quiet second is applied on the next turn; while hooks keep coming
    // (a rack reaching `ready`), at most one flush per HOOK_BATCH_MS gathers them.
    const wait = Math.max(0, this.lastFlushAt + HOOK_BATCH_MS - this.clock.now());
    this.pendingFlush = new Promise<void>((res) => (wait === 0 ? setImmediate(res) : setTimeout(res, wait)))
      .then(() =>
        this.locked(async () => {
          this.pendingFlush = null;
          this.lastFlushAt = this.clock.now();
          const batch = this.pendingAdds;
          this.pendingAdds = new Map();
          for (const bc of this.barclamps.list()) {
            const adds = batch.get(bc.name);
            if (!adds) continue;
            try {
              await this.addToRoles(bc, adds);
            } catch (e) {
              this.log.warn('barclamp hook failed', { barclamp: bc.name, nodes: [...adds.keys()], error: errorMessage(e) });
            }
          }
        }),
      )
      .catch((e) => {
        this.pendingFlush = null;
        this.log.warn('barclamp hooks failed', { error: errorMessage(e) });
      });
  }

  /** Declarative hook: add nodes to roles of every applied proposal of `bc` and re-apply it once. */
  private async addToRoles(bc: Barclamp, adds: ReadonlyMap<string, readonly string[]>): Promise<void> {
    for (const r of this.repo.list(bc.name)) {
      if (r.status !== 'applied' || !r.applied_doc) continue;
      const doc = JSON.parse(r.doc) as ProposalDoc;
      const dep = doc.deployment[bc.name];
      const added: Array<{ node: string; roles: string[] }> = [];
      for (const [node, roles] of adds) {
        if (!this.nodes.exists(node)) continue; // deleted while the hook waited
        const joined: string[] = [];
        for (const role of roles) {
          const list = (dep.elements[role] ??= []);
          const max = bc.manifest.roles[role]?.max_count;
          if (list.includes(node) || (max !== undefined && list.length >= max)) continue;
          list.push(node);
          joined.push(role);
        }
        if (joined.length) added.push({ node, roles: joined });
      }
      if (!added.length) continue;
      if (this.problems(bc, doc).length) continue;
      // The hook is how a node joins an applied proposal: apply now (the
      // proposal's requirements were met when it was applied).
      const now = this.clock.now();
      this.audit.tx(() => {
        for (const a of added) this.audit.audit(now, 'hook', 'proposal-hook-add', bc.name, r.name, a);
      });
      await this.apply(bc, r, doc, 'hook');
    }
  }

  /** A deleted node leaves every proposal (documents and applied documents). */
  private dropNode(node: string): void {
    for (const r of this.repo.list()) {
      const strip = (text: string | null): string | null => {
        if (!text) return text;
        const d = JSON.parse(text) as ProposalDoc;
        const dep = d.deployment[r.barclamp];
        if (!dep) return text;
        for (const role of Object.keys(dep.elements)) dep.elements[role] = dep.elements[role].filter((n) => n !== node);
        for (const role of Object.keys(dep.element_states ?? {})) delete dep.element_states![role][node];
        return JSON.stringify(d);
      };
      const doc = strip(r.doc)!;
      const applied = strip(r.applied_doc);
      if (doc !== r.doc || applied !== r.applied_doc) {
        this.repo.setDocs(r.id, doc, applied, r.schema_revision, this.clock.now());
        this.audit.audit(this.clock.now(), 'hook', 'proposal-node-removed', r.barclamp, r.name, { node });
      }
    }
  }
}
