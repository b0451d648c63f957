/**
 * Discovery: registration of machines running the discovery image, and the
 * agent's side of the node lifecycle (what to do next, transitions, logs).
 *
 * Registration is narrow (design.md §4): it creates a `discovered` node with
 * its admin address and a per-node token, or, for the same machine booting
 * again, reuses its node (identity rule in src/model/registration.ts). A
 * registration claiming MACs of another machine is refused and the stored
 * node is left untouched.
 */
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Node } from '../model/node.js';
import { sameMachine, type Registration } from '../model/registration.js';
import { agentAction, AGENT_TRANSITIONS, type AgentAction } from '../state/agent.js';
import { bootGroup } from '../state/lifecycle.js';
import type { AgentTokenRepo } from '../store/agent-tokens.js';
import type { Db } from '../store/db.js';
import type { NodeLogRepo, NodeLogLine } from '../store/node-logs.js';
import type { NodeRepo } from '../store/nodes.js';
import type { EffectExecutor } from './effects.js';
import type { EventBus } from './events.js';
import type { ImageInstallPlan } from './image-install.js';
import type { NodeService } from './nodes.js';

/** Settings of the discovery service. */
export interface DiscoveryOptions {
  /** DNS domain for node names. */
  domain: string;
  /** Agent poll interval, seconds. */
  pollSeconds: number;
}

/** Everything the discovery service works with. */
export interface DiscoveryDeps {
  db: Db;
  repo: NodeRepo;
  nodes: NodeService;
  /**
   * Allocate (idempotently) the node's admin address: the network barclamp's
   * allocation (AllocationRepo network 'admin', admin_network.host_range_*).
   */
  allocateAdmin: (nodeId: number) => { address: string };
  tokens: AgentTokenRepo;
  logs: NodeLogRepo;
  executor: EffectExecutor;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  /**
   * The image-install plan of a node whose OS is a root image, else null
   * (docs/image-install.md). Absent: no image installs.
   */
  imagePlan?: (node: Node) => ImageInstallPlan | null;
}

/** Outcome of a registration. */
export interface RegistrationResult {
  /** True when a new node was created (HTTP 201), false when an existing one was reused. */
  created: boolean;
  node: Node;
  /** The node's new agent token (plain; shown only in this reply). */
  token: string;
  admin_address: string;
}

/** Longest accepted agent log line; longer lines are cut. */
const MAX_LINE = 2000;

/** Registration and agent operations. */
export class DiscoveryService {
  constructor(
    private readonly d: DiscoveryDeps,
    private readonly o: DiscoveryOptions,
  ) {}

  /** Register a machine (see the class comment); `source` is the client address for the log. */
  async register(reg: Registration, source: string): Promise<RegistrationResult> {
    const { repo, db, clock } = this.d;
    const owners = new Map<number, Node>();
    for (const m of reg.macs) {
      const n = repo.getByMac(m);
      if (n) owners.set(n.id, n);
    }
    if (owners.size > 1) {
      const names = [...owners.values()].map((n) => n.name);
      this.d.log.warn('registration refused: MACs of several nodes', { source, mac: reg.mac, nodes: names });
      throw new CrowbarError('conflict', `the registration claims MACs of several nodes (${names.join(', ')}); refused`, { nodes: names });
    }
    if (owners.size === 1) return this.reregister([...owners.values()][0], reg, source);

    const now = clock.now();
    const { node, token, address } = db.transaction(() => {
      const n = this.d.nodes.create(reg.macs, { domain: this.o.domain, state: 'discovered', inventory: reg.inventory, cause: `discovery from ${source}` });
      const a = this.d.allocateAdmin(n.id);
      const t = this.d.tokens.issue(n.id, now);
      return { node: n, token: t, address: a.address };
    }).immediate();
    this.d.log.info('node discovered', { node: node.name, mac: reg.mac, source, admin_address: address, cpus: reg.inventory.cpu_count, memory_kb: reg.inventory.memory_kb });
    await this.d.executor.run(node, [{ type: 'dns-update' }, { type: 'notify' }]);
    return { created: true, node, token, admin_address: address };
  }

  private async reregister(node: Node, reg: Registration, source: string): Promise<RegistrationResult> {
    const { repo, db, clock } = this.d;
    const verdict = sameMachine(node, reg);
    if (!verdict.same) {
      this.d.log.warn('registration refused: known MAC, different machine', { source, mac: reg.mac, node: node.name, reason: verdict.reason });
      throw new CrowbarError('conflict', `MAC ${reg.macs.find((m) => node.macs.includes(m))} belongs to node ${node.name}, and this is not the same machine (${verdict.reason}); refused, the node is unchanged`, {
        node: node.name,
      });
    }
    const group = bootGroup(node.state);
    // An image install boots the discovery image in boot group os-install.
    const imageInstall = group === 'os-install' && this.imagePlanOf(node) !== null;
    if (group !== 'discovery' && group !== 'hardware-install' && !imageInstall) {
      this.d.log.warn('registration refused: node does not boot the discovery image in its state', { source, node: node.name, state: node.state });
      throw new CrowbarError('conflict', `node ${node.name} is ${node.state}; it does not boot the discovery image now, so a registration for it is refused`, {
        node: node.name,
        state: node.state,
      });
    }
    const now = clock.now();
    const { token, address } = db.transaction(() => {
      repo.setInventory(node.id, reg.inventory, now);
      const a = this.d.allocateAdmin(node.id);
      const t = this.d.tokens.issue(node.id, now);
      return { token: t, address: a.address };
    }).immediate();
    let after = repo.get(node.id)!;
    if (after.state === 'reset' || after.state === 'discovering') after = (await this.d.nodes.transition(String(node.id), 'discovered', `discovery from ${source}`)).node;
    this.d.log.info('node registered again', { node: after.name, mac: reg.mac, source, state: after.state, admin_address: address, rule: verdict.reason });
    return { created: false, node: after, token, admin_address: address };
  }

  /** The node an agent token belongs to; throws `unauthorized`. */
  authenticate(token: string): Node {
    const id = this.d.tokens.verify(token, this.d.clock.now());
    const node = id === undefined ? undefined : this.d.repo.get(id);
    if (!node) throw new CrowbarError('unauthorized', 'invalid node token');
    return node;
  }

  /** What the agent of `node` should do next (an image install carries its plan's fields). */
  next(node: Node): AgentAction & { node: string; state: string; interval: number } & Partial<ImageInstallPlan> {
    const fresh = this.d.repo.get(node.id) ?? node;
    const plan = bootGroup(fresh.state) === 'os-install' ? this.imagePlanOf(fresh) : null;
    const action = agentAction(fresh.state, fresh.allocated, plan !== null);
    return { ...action, ...(action.action === 'image-install' && plan ? plan : {}), node: fresh.name, state: fresh.state, interval: this.o.pollSeconds };
  }

  /**
   * A fresh token for the join agent of the installed system, asked for by
   * the image-install agent with its own token. It replaces (revokes) the
   * calling token: the install agent goes on with the new one and writes it
   * into the target disk (0600). Only while the node installs an image.
   */
  issueJoinToken(node: Node): string {
    const fresh = this.d.repo.get(node.id) ?? node;
    if (bootGroup(fresh.state) !== 'os-install' || this.imagePlanOf(fresh) === null) {
      throw new CrowbarError('conflict', `node ${fresh.name} is ${fresh.state} and does not install an image; no join token is issued`, { node: fresh.name, state: fresh.state });
    }
    const token = this.d.tokens.issue(fresh.id, this.d.clock.now());
    this.d.log.info('join token issued', { node: fresh.name });
    return token;
  }

  private imagePlanOf(node: Node): ImageInstallPlan | null {
    return this.d.imagePlan ? this.d.imagePlan(node) : null;
  }

  /** A transition posted by a node's agent (only AGENT_TRANSITIONS). */
  async agentTransition(node: Node, to: string, reason: string | null): Promise<Node> {
    if (!AGENT_TRANSITIONS.has(to)) throw new CrowbarError('forbidden', `an agent may not move its node to ${JSON.stringify(to)} (allowed: ${[...AGENT_TRANSITIONS].join(', ')})`);
    const r = await this.d.nodes.transition(String(node.id), to, 'agent', reason);
    return r.node;
  }

  /** Store log text sent by a node (split into lines, control characters removed). */
  appendLog(node: Node, source: string, text: string): number {
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').slice(0, MAX_LINE))
      .filter((l) => l.length > 0);
    return this.d.logs.append(node.id, source, lines, this.d.clock.now());
  }

  /** The latest log lines of a node. */
  logTail(node: Node, limit: number): NodeLogLine[] {
    return this.d.logs.tail(node.id, limit);
  }
}
