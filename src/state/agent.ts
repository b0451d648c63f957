/**
 * What a node's agent (running the discovery / hardware-install image) is told
 * to do next, per node state: a pure table consulted by GET /api/v1/agent/next.
 * Also the transitions an agent may post itself.
 */
import type { NodeState } from '../model/node.js';

/** The instruction for the agent. */
export type AgentAction =
  | { action: 'wait' }
  | { action: 'hardware-install'; begin: NodeState; end: NodeState }
  | { action: 'image-install' }
  | { action: 'reboot' }
  | { action: 'poweroff' };

/**
 * Decide the agent's next step. A discovered node waits until it is
 * allocated (by the operator or a policy); then, and in the hardware states,
 * it runs the hardware steps and posts begin/end transitions; in states whose
 * boot group is something else (OS install, local disk) it reboots so the
 * firmware fetches its new boot script; a deleted node powers off. When the
 * node's OS is a root image (`imageInstall`), the OS-install states make the
 * discovery agent write it (docs/image-install.md) instead of rebooting.
 */
export function agentAction(state: NodeState, allocated: boolean, imageInstall = false): AgentAction {
  switch (state) {
    case 'hardware-installed':
    case 'installing':
    case 'reinstall':
      return imageInstall ? { action: 'image-install' } : { action: 'reboot' };
    case 'discovering':
    case 'reset':
      return { action: 'wait' };
    case 'discovered':
      return allocated ? { action: 'hardware-install', begin: 'hardware-installing', end: 'hardware-installed' } : { action: 'wait' };
    case 'hardware-installing':
      return { action: 'hardware-install', begin: 'hardware-installing', end: 'hardware-installed' };
    case 'update':
    case 'hardware-updating':
      return { action: 'hardware-install', begin: 'hardware-updating', end: 'hardware-updated' };
    case 'problem':
      return { action: 'wait' };
    case 'delete':
      return { action: 'poweroff' };
    default:
      return { action: 'reboot' };
  }
}

/**
 * States a node's own agent may post (anything else needs an operator): the
 * hardware phase (discovery image), the install phase (image install in the
 * discovery image, or the installer's post-install step) and the join phase
 * (crowbar-join on the installed system: readying -> ready, recovering on a
 * failed first attempt, applying when a changed run list is re-applied from
 * ready or problem). The lifecycle table still decides whether a posted
 * state may follow the current one; admin actions (reset, reinstall, update,
 * delete) and `discovered` stay operator-only.
 */
export const AGENT_TRANSITIONS: ReadonlySet<string> = new Set([
  'hardware-installing',
  'hardware-installed',
  'hardware-updating',
  'hardware-updated',
  'installing',
  'installed',
  'readying',
  'ready',
  'applying',
  'recovering',
  'problem',
]);
