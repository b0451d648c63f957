/**
 * Node service: applies lifecycle decisions to stored nodes. A transition is
 * committed to SQLite first (state + event in one transaction), then its
 * effects run through the executor. Crash recovery moves nodes caught in a
 * transient state to `problem` with the reason.
 */
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { crowbarNodeName, normalizeMac } from '../lib/mac.js';
import type { Inventory, Node, NodeState } from '../model/node.js';
import { decide, TRANSIENT_STATES } from '../state/lifecycle.js';
import type { NodeRepo } from '../store/nodes.js';
import type { EffectExecutor, EffectOutcome } from './effects.js';
import type { EventBus } from './events.js';

/** Result of a transition request. */
export interface TransitionResult {
  node: Node;
  from: NodeState;
  effects: EffectOutcome[];
}

/** Orchestrates node creation and transitions. */
export class NodeService {
  constructor(
    private readonly repo: NodeRepo,
    private readonly executor: EffectExecutor,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Node by name (or numeric id as a string); throws not_found. */
  get(nameOrId: string): Node {
    const n = /^\d+$/.test(nameOrId) ? this.repo.get(Number(nameOrId)) : this.repo.getByName(nameOrId);
    if (!n) throw new CrowbarError('not_found', `node ${nameOrId} not found`);
    return n;
  }

  /** All nodes. */
  list(): Node[] {
    return this.repo.list();
  }

  /**
   * Create a node known by its MACs (first = boot MAC), in `state`. Named as
   * Crowbar does (`d<mac-with-dashes>.<domain>`) unless a name is given.
   */
  create(macs: string[], opts: { domain: string; state?: NodeState; name?: string; inventory?: Inventory; cause?: string }): Node {
    if (macs.length === 0) throw new CrowbarError('bad_request', 'a node needs at least one MAC');
    const canon = [...new Set(macs.map(normalizeMac))];
    const name = opts.name ?? `${crowbarNodeName(canon[0])}.${opts.domain}`;
    const node = this.repo.create({ name, macs: canon, state: opts.state ?? 'discovered', inventory: opts.inventory, cause: opts.cause ?? 'created' }, this.clock.now());
    this.bus.publish({ type: 'node.created', at: this.clock.now(), data: { node: node.name, state: node.state } });
    return node;
  }

  /**
   * Request a transition (a state or a power action) for a node. The new
   * state is durable before this returns; effects run afterwards.
   */
  async transition(nameOrId: string, to: string, cause: string, reason: string | null = null): Promise<TransitionResult> {
    const node = this.get(nameOrId);
    const d = decide(node.state, to);
    if (!d.ok)
      throw new CrowbarError('transition.invalid', `node ${node.name} cannot go from ${node.state} to ${to}; allowed: ${d.allowed.join(', ') || '(none)'}`, {
        from: node.state,
        to,
        allowed: d.allowed,
      });
    let after = node;
    if (d.to !== node.state || to === 'problem') {
      after = this.repo.transition(node.id, node.state, d.to, cause, d.to === 'problem' ? (reason ?? cause) : null, this.clock.now(), d.allocated);
      this.bus.publish({ type: 'node.transition', at: this.clock.now(), data: { node: after.name, from: node.state, to: d.to, cause } });
    }
    const effects = await this.executor.run(after, d.effects);
    return { node: after, from: node.state, effects };
  }

  /**
   * Start-up recovery: a node in a transient state when the process stopped
   * was interrupted; it moves to `problem` with the reason (design.md §3).
   */
  recoverInterrupted(): Node[] {
    const stuck = this.repo.listInStates([...TRANSIENT_STATES]);
    const moved: Node[] = [];
    for (const n of stuck) {
      const reason = `appliance restarted while the node was ${n.state}`;
      try {
        moved.push(this.repo.transition(n.id, n.state, 'problem', 'recovery', reason, this.clock.now()));
      } catch (e) {
        this.log.warn('recovery transition failed', { node: n.name, error: String(e) });
      }
    }
    if (moved.length) this.log.warn('nodes interrupted by a restart moved to problem', { count: moved.length });
    return moved;
  }
}
