/**
 * Barclamp hooks: code a barclamp runs inside the appliance at points of the
 * proposal and node life cycles. Built-in barclamps (network) implement them
 * in TypeScript; installed barclamps only get the declarative hooks of their
 * crowbar.yml (`hooks: {ready: {add_to_role: [...]}}`), never code.
 * Node transitions call hooks in barclamp run order (design.md §3).
 */
import type { SchemaError } from '../barclamps/jsonschema.js';
import type { ProposalDoc } from '../barclamps/proposal.js';
import type { Node, NodeState } from '../model/node.js';

/** Hooks one barclamp may implement (all optional). */
export interface BarclampHook {
  /** Barclamp name the hook belongs to. */
  readonly barclamp: string;
  /** Adjust a proposal freshly made from the template (e.g. admin network from the config). */
  prepareProposal?(doc: ProposalDoc): void;
  /** Barclamp-specific validation besides the schema (paths as in schema errors). */
  validateProposal?(doc: ProposalDoc): SchemaError[];
  /** Before the roles of a commit are applied to `nodes` (e.g. allocate addresses). */
  beforeApply?(doc: ProposalDoc, nodes: readonly Node[]): void | Promise<void>;
  /**
   * A node entered `to` (from `from`, null when it was created in `to`).
   * Synchronous work here is done before the transition's effects run
   * (e.g. the admin address exists before DHCP/DNS use it).
   */
  onNodeTransition?(node: Node, from: NodeState | null, to: NodeState): void | Promise<void>;
}
