/** Domain types for nodes and their event log (Crowbar's names, design.md §3). */

/** Node states posted as transitions (Crowbar's state machine). */
export const NODE_STATES = [
  'discovering',
  'discovered',
  'hardware-installing',
  'hardware-installed',
  'installing',
  'installed',
  'readying',
  'ready',
  'hardware-updating',
  'hardware-updated',
  'applying',
  'recovering',
  'problem',
  'reset',
  'reinstall',
  'update',
  'delete',
] as const;
/** A node state name. */
export type NodeState = (typeof NODE_STATES)[number];

/** Admin actions that change no state but ask for a power effect. */
export const POWER_ACTIONS = ['reboot', 'shutdown', 'poweron', 'identify'] as const;
/** A power action name. */
export type PowerAction = (typeof POWER_ACTIONS)[number];

/** What a node in a given state boots next (design.md §3). */
export type BootGroup = 'discovery' | 'hardware-install' | 'os-install' | 'local' | 'none';

/** Hardware inventory reported by the discovery agent (all fields optional). */
export interface Inventory {
  cpu_count?: number;
  cpu_model?: string;
  memory_kb?: number;
  disks?: Array<{ name: string; size_bytes: number; model?: string; serial?: string; rotational?: number }>;
  nics?: Array<{ name: string; mac: string; driver?: string; speed_mbps?: number; carrier?: number }>;
  dmi?: Record<string, string>;
  firmware?: 'bios' | 'uefi';
  bmc?: { address?: string; mac?: string; manufacturer_id?: string; product_id?: string };
  [k: string]: unknown;
}

/** A node as stored. */
export interface Node {
  id: number;
  name: string;
  /** All MACs of the node, canonical form; the first is the boot MAC. */
  macs: string[];
  state: NodeState;
  /** Why the node is in `problem` (or the last fault). */
  problem_reason: string | null;
  allocated: boolean;
  inventory: Inventory;
  bmc_address: string | null;
  bmc_user: string | null;
  /** True when an encrypted BMC password is stored (the password itself is never in this object). */
  bmc_password_set: boolean;
  power_driver: string;
  created_at: number;
  updated_at: number;
  state_changed_at: number;
}

/** One entry of the append-only event log. */
export interface NodeEvent {
  id: number;
  node_id: number;
  node_name: string;
  from_state: NodeState | null;
  to_state: NodeState;
  cause: string;
  at: number;
}
