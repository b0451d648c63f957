/**
 * The node lifecycle as a pure transition table (design.md §3). `decide`
 * takes the current state and a requested transition and returns either the
 * next state with the effects to perform, or the list of allowed targets.
 * Nothing here touches I/O; src/services/node-executor.ts performs effects.
 */
import { NODE_STATES, POWER_ACTIONS, type BootGroup, type NodeState, type PowerAction } from '../model/node.js';

/** A side effect requested by a transition, performed by the executor. */
export type Effect =
  | { type: 'power'; action: 'on' | 'off' | 'cycle' | 'identify' }
  | { type: 'boot-device'; device: 'pxe' | 'disk' }
  | { type: 'dns-update' }
  | { type: 'release-allocations' }
  | { type: 'remove-node' }
  | { type: 'apply-roles' }
  | { type: 'notify' };

/** Result of a decision. `allocated`, when present, is the node's new allocated flag. */
export type Decision =
  | { ok: true; to: NodeState; effects: Effect[]; allocated?: boolean }
  | { ok: false; allowed: string[] };

/**
 * Crowbar's "allocate": a node entering hardware-installing has been
 * allocated (by an operator or by policy); `reset` returns it to the pool of
 * unallocated, discovered machines.
 */
function allocatedAfter(to: NodeState): boolean | undefined {
  if (to === 'hardware-installing') return true;
  if (to === 'reset') return false;
  return undefined;
}

/** States in which work is in flight: a crash there moves the node to `problem`. */
export const TRANSIENT_STATES: ReadonlySet<NodeState> = new Set<NodeState>([
  'discovering',
  'hardware-installing',
  'installing',
  'readying',
  'hardware-updating',
  'applying',
  'recovering',
]);

/** Admin actions allowed from any state. */
const ADMIN_ACTIONS: ReadonlySet<NodeState> = new Set<NodeState>(['reset', 'reinstall', 'update', 'delete']);

/** Forward transitions (posted by the node's agent or the orchestration). */
const FORWARD: Readonly<Record<NodeState, readonly NodeState[]>> = {
  discovering: ['discovered'],
  discovered: ['hardware-installing', 'discovering'],
  'hardware-installing': ['hardware-installed'],
  'hardware-installed': ['installing'],
  installing: ['installed'],
  installed: ['readying'],
  readying: ['ready', 'recovering'],
  ready: ['readying', 'applying', 'hardware-updating'],
  'hardware-updating': ['hardware-updated'],
  'hardware-updated': ['readying', 'ready'],
  applying: ['ready', 'recovering'],
  recovering: ['ready', 'readying', 'applying'],
  problem: ['readying', 'applying', 'hardware-installing', 'installing', 'discovering'],
  reset: ['discovering', 'discovered'],
  reinstall: ['installing'],
  update: ['hardware-updating'],
  delete: [],
};

/** Boot group of each state. */
const BOOT: Readonly<Record<NodeState, BootGroup>> = {
  discovering: 'discovery',
  discovered: 'hardware-install',
  'hardware-installing': 'hardware-install',
  'hardware-installed': 'os-install',
  installing: 'os-install',
  installed: 'local',
  readying: 'local',
  ready: 'local',
  'hardware-updating': 'hardware-install',
  'hardware-updated': 'local',
  applying: 'local',
  recovering: 'local',
  problem: 'local',
  reset: 'discovery',
  reinstall: 'os-install',
  update: 'hardware-install',
  delete: 'none',
};

/** What a node in `state` boots next. */
export function bootGroup(state: NodeState): BootGroup {
  return BOOT[state];
}

/** True for a known state name. */
export function isNodeState(s: string): s is NodeState {
  return (NODE_STATES as readonly string[]).includes(s);
}

/** True for a power action name. */
export function isPowerAction(s: string): s is PowerAction {
  return (POWER_ACTIONS as readonly string[]).includes(s);
}

/** Effects of entering `to` from `from`. */
function effectsOf(from: NodeState, to: NodeState): Effect[] {
  const fx: Effect[] = [{ type: 'notify' }];
  switch (to) {
    case 'discovered':
      fx.push({ type: 'dns-update' });
      break;
    case 'hardware-installed':
    case 'reinstall':
      fx.push({ type: 'boot-device', device: 'pxe' });
      break;
    case 'installed':
      fx.push({ type: 'boot-device', device: 'disk' });
      break;
    case 'readying':
    case 'applying':
      fx.push({ type: 'apply-roles' });
      break;
    case 'reset':
    case 'update':
      fx.push({ type: 'boot-device', device: 'pxe' });
      break;
    case 'delete':
      fx.push({ type: 'power', action: 'off' }, { type: 'release-allocations' }, { type: 'dns-update' }, { type: 'remove-node' });
      break;
    default:
      break;
  }
  // Admin actions that need the machine to boot again power-cycle it.
  if (to === 'reset' || to === 'reinstall' || to === 'update') fx.push({ type: 'power', action: 'cycle' });
  if (from === 'problem' && to !== 'problem') fx.push({ type: 'dns-update' });
  return fx;
}

/** Allowed targets from `from` (forward states, `problem`, admin actions, power actions). */
export function allowedFrom(from: NodeState): string[] {
  if (from === 'delete') return [];
  return [...FORWARD[from], 'problem', ...[...ADMIN_ACTIONS].filter((a) => a !== from), ...POWER_ACTIONS];
}

/**
 * Decide a transition. `to` is a state name or a power action. Staying in the
 * same state is not a transition (refused) except re-posting `problem`.
 */
export function decide(from: NodeState, to: string): Decision {
  if (from === 'delete') return { ok: false, allowed: [] };
  if (isPowerAction(to)) {
    const action = ({ reboot: 'cycle', shutdown: 'off', poweron: 'on', identify: 'identify' } as const)[to];
    return { ok: true, to: from, effects: [{ type: 'power', action }] };
  }
  if (!isNodeState(to)) return { ok: false, allowed: allowedFrom(from) };
  if (to === 'problem') return { ok: true, to, effects: [{ type: 'notify' }] };
  const allocated = allocatedAfter(to);
  const ok = (): Decision => ({ ok: true, to, effects: effectsOf(from, to), ...(allocated === undefined ? {} : { allocated }) });
  if (ADMIN_ACTIONS.has(to) && to !== from) return ok();
  if (FORWARD[from].includes(to)) return ok();
  return { ok: false, allowed: allowedFrom(from) };
}
