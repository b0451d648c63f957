/**
 * The network barclamp's service: the networks in force (the applied network
 * proposal, else the template; the admin network always from the appliance
 * config so DHCP, DNS and allocation agree), persistent allocation per
 * network and node (AllocationRepo), conduit resolution against a node's
 * discovered NICs, and the node's interface plan. Its hook allocates admin
 * and BMC addresses when a node is discovered.
 */
import type { Config } from '../config/schema.js';
import type { Clock } from '../lib/clock.js';
import { CrowbarError } from '../lib/errors.js';
import { intToIp, parseCidr, prefixToMask } from '../lib/ip.js';
import type { Logger } from '../lib/logger.js';
import type { Node } from '../model/node.js';
import type { AllocationRepo, Allocation } from '../store/allocations.js';
import type { NodeRepo } from '../store/nodes.js';
import { resolveConduits, selectConduits, type ConduitMapEntry, type ResolvedConduit } from '../barclamps/conduits.js';
import { hostRange, interfacePlan, networkProblems, reservedAddresses, type NetworkDef, type NodeInterface } from '../barclamps/networks.js';
import type { SchemaError } from '../barclamps/jsonschema.js';
import type { ProposalDoc } from '../barclamps/proposal.js';
import type { BarclampHook } from './hooks.js';

/** attributes.network of a proposal. */
export interface NetworkAttributes {
  mode: string;
  teaming: { mode: number };
  node_networks: string[];
  default_route_network: string;
  conduit_map: ConduitMapEntry[];
  networks: Record<string, NetworkDef>;
}

/** Where the network attributes in force come from. */
export interface NetworkSource {
  /** attributes.network of the applied network proposal, or null. */
  applied(): NetworkAttributes | null;
  /** attributes.network of the network barclamp's template. */
  template(): NetworkAttributes;
}

/** attributes.network used when the network barclamp is not installed: the admin network only. */
export const FALLBACK_NETWORK_ATTRIBUTES: NetworkAttributes = {
  mode: 'single',
  teaming: { mode: 6 },
  node_networks: ['admin'],
  default_route_network: 'admin',
  conduit_map: [{ pattern: '.*/.*/.*', conduit_list: { intf0: { if_list: ['?1g1'] } } }],
  networks: {
    admin: { conduit: 'intf0', vlan: 100, use_vlan: false, add_bridge: false, subnet: '0.0.0.0', netmask: '0.0.0.0', router: null, ranges: {} },
  },
};

/** Networks allocated as soon as a node is discovered. */
export const DISCOVERY_NETWORKS = ['admin', 'bmc'] as const;

/** Network allocation, conduits and interface plans. */
export class NetworkService {
  constructor(
    private readonly config: Readonly<Config>,
    private readonly allocations: AllocationRepo,
    private readonly nodes: NodeRepo,
    private readonly source: NetworkSource,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** The admin network as the appliance config defines it. */
  adminNetwork(base?: NetworkDef): NetworkDef {
    const a = this.config.admin_network;
    const c = parseCidr(a.address);
    return {
      conduit: base?.conduit ?? 'intf0',
      vlan: base?.vlan ?? 100,
      use_vlan: false,
      add_bridge: base?.add_bridge ?? false,
      subnet: intToIp(c.network),
      netmask: intToIp(prefixToMask(c.prefix)),
      router: a.router ?? null,
      router_pref: base?.router_pref ?? 5,
      ranges: {
        admin: { start: a.address.split('/')[0], end: a.address.split('/')[0] },
        host: { start: a.host_range_start, end: a.host_range_end },
        dhcp: { start: this.config.services.dhcp.range_start, end: this.config.services.dhcp.range_end },
      },
    };
  }

  /** attributes.network in force (admin network from the config). */
  attributes(): NetworkAttributes {
    const attrs = structuredClone(this.source.applied() ?? this.source.template());
    attrs.networks.admin = this.adminNetwork(attrs.networks.admin);
    return attrs;
  }

  /** Networks in force. */
  networks(): Record<string, NetworkDef> {
    return this.attributes().networks;
  }

  /** One network; not_found when unknown. */
  network(name: string): NetworkDef {
    const n = this.networks()[name];
    if (!n) throw new CrowbarError('not_found', `network ${name} is not defined (networks: ${Object.keys(this.networks()).join(', ')})`);
    return n;
  }

  private node(nameOrId: string | number): Node {
    const n = typeof nameOrId === 'number' ? this.nodes.get(nameOrId) : /^\d+$/.test(nameOrId) ? this.nodes.get(Number(nameOrId)) : this.nodes.getByName(nameOrId);
    if (!n) throw new CrowbarError('not_found', `node ${nameOrId} not found`);
    return n;
  }

  /**
   * Allocate (idempotently) the node's address on `network` from its host
   * range; a free `suggested` address inside the range is honoured. The
   * appliance's own address, the router, network and broadcast addresses
   * are never handed out. Raises `pool.exhausted` when the range is full.
   */
  allocate(network: string, nodeNameOrId: string | number, suggested?: string, def?: NetworkDef): Allocation {
    const net = network === 'admin' ? this.adminNetwork(def) : (def ?? this.network(network));
    const node = this.node(nodeNameOrId);
    const exclude = [...reservedAddresses(net), ...(network === 'admin' ? [this.config.admin_network.address.split('/')[0]] : [])];
    const a = this.allocations.allocate(network, node.id, hostRange(network, net), this.clock.now(), suggested, exclude);
    return a;
  }

  /** Release the node's address on one network (or all). */
  release(nodeNameOrId: string | number, network?: string): number {
    const node = this.node(nodeNameOrId);
    const n = this.allocations.release(node.id, network);
    if (n) this.log.info('addresses released', { node: node.name, network: network ?? '*', count: n });
    return n;
  }

  /** Release every allocation of a node id (effect handler for 'release-allocations'). */
  releaseNodeId(nodeId: number): number {
    return this.allocations.release(nodeId);
  }

  /** All allocations of a network, with node names. */
  allocationsOf(network: string): Array<Allocation & { node: string | null }> {
    this.network(network);
    return this.allocations.list(network).map((a) => ({ ...a, node: this.nodes.get(a.node_id)?.name ?? null }));
  }

  /** network -> address of a node. */
  addressesOf(node: Node): Record<string, string> {
    const out: Record<string, string> = {};
    for (const a of this.allocations.forNode(node.id)) out[a.network] = a.address;
    return out;
  }

  /** Node name -> admin address of every node that has one. */
  adminAddresses(): Map<string, string> {
    return this.allocations.byNodeName('admin');
  }

  /** The node's conduits resolved against its discovered NICs. */
  conduitsFor(node: Node, attrs: NetworkAttributes = this.attributes()): Record<string, ResolvedConduit> {
    const nics = (node.inventory.nics ?? []).filter((n) => typeof n?.name === 'string');
    const list = selectConduits(attrs.conduit_map, attrs.mode, nics.length, node.name);
    return resolveConduits(list, nics);
  }

  /** The node's interface plan (networks it has addresses on, over its conduits). */
  planFor(node: Node, attrs: NetworkAttributes = this.attributes()): { conduits: Record<string, ResolvedConduit>; interfaces: NodeInterface[] } {
    const conduits = this.conduitsFor(node, attrs);
    const networks = Object.fromEntries(Object.entries(attrs.networks).filter(([, n]) => n.conduit !== 'bmc'));
    return { conduits, interfaces: interfacePlan(networks, conduits, this.addressesOf(node)) };
  }

  /** The network barclamp's hook. */
  hook(): BarclampHook {
    return {
      barclamp: 'network',
      prepareProposal: (doc) => {
        const attrs = doc.attributes.network as unknown as NetworkAttributes;
        attrs.networks.admin = this.adminNetwork(attrs.networks.admin);
      },
      validateProposal: (doc) => this.validate(doc),
      beforeApply: (doc, nodes) => {
        const attrs = doc.attributes.network as unknown as NetworkAttributes;
        // Only nodes without an address on the network get one (one query per network, not per node:
        // a hook adding one node re-applies a proposal holding every node).
        for (const net of attrs.node_networks) {
          if (!(net in attrs.networks)) continue;
          const have = this.allocations.byNodeName(net);
          for (const node of nodes) if (!have.has(node.name)) this.allocate(net, node.id, undefined, attrs.networks[net]);
        }
      },
      onNodeTransition: (node, _from, to) => {
        if (to !== 'discovered') return;
        for (const net of DISCOVERY_NETWORKS) {
          if (!(net in this.networks())) continue;
          try {
            const a = this.allocate(net, node.id);
            this.log.info('address allocated', { node: node.name, network: net, address: a.address });
          } catch (e) {
            this.log.warn('allocation on discovery failed', { node: node.name, network: net, error: String(e) });
          }
        }
      },
    };
  }

  /** Network-specific proposal checks (paths under attributes.network). */
  validate(doc: ProposalDoc): SchemaError[] {
    const attrs = doc.attributes.network as unknown as NetworkAttributes;
    const base = 'attributes.network';
    const conduits = new Set<string>(['bmc']);
    for (const e of attrs.conduit_map) for (const c of Object.keys(e.conduit_list)) conduits.add(c);
    const errors: SchemaError[] = networkProblems(attrs.networks, conduits, `${base}.networks`);
    attrs.conduit_map.forEach((e, i) => {
      try {
        new RegExp(e.pattern);
      } catch {
        errors.push({ path: `${base}.conduit_map[${i}].pattern`, message: 'not a valid regular expression' });
      }
    });
    for (const n of attrs.node_networks) if (!(n in attrs.networks)) errors.push({ path: `${base}.node_networks`, message: `unknown network ${JSON.stringify(n)}` });
    if (!(attrs.default_route_network in attrs.networks)) errors.push({ path: `${base}.default_route_network`, message: `unknown network ${JSON.stringify(attrs.default_route_network)}` });
    const admin = this.adminNetwork(attrs.networks.admin);
    const a = attrs.networks.admin;
    if (a && (a.subnet !== admin.subnet || a.netmask !== admin.netmask))
      errors.push({ path: `${base}.networks.admin.subnet`, message: `must be ${admin.subnet}/${admin.netmask}, the appliance's admin_network (change it in the appliance config)` });
    return errors;
  }
}
