/**
 * GET /api/v1/agent/hardware-install: the hardware-install instruction for
 * the calling node (images/agent/hardware-install.sh fetches it with the
 * node token). It contains the node's BMC password, so it is served only to
 * the node itself, authenticated by the agent strategy the discovery area
 * registers; the strategy name and the node lookup are injected.
 */
import type { Request, Server } from '@hapi/hapi';
import type { Node } from '../model/node.js';
import type { PowerService } from '../services/power/service.js';
import type { BiosSpec, BmcNetwork, RaidSpec } from '../services/power/instruction.js';

/** How the route authenticates the node and where its plan comes from. */
export interface HardwareInstallRouteOptions {
  /** hapi auth strategy of node agents (e.g. 'agent'). */
  auth: string;
  /** The authenticated node of a request. */
  nodeOf: (req: Request) => Node;
  /** LAN channel to configure. */
  channel: number;
  /** The node's BMC address (bmc network allocation), ipmi settings, RAID and BIOS plan; undefined parts are skipped or defaulted. */
  plan: (node: Node) => { network?: BmcNetwork; raid?: RaidSpec; bios?: BiosSpec; channel?: number; userId?: number; bmc?: boolean };
}

/** Register the instruction route. */
export function registerHardwareInstallRoute(server: Server, power: PowerService, o: HardwareInstallRouteOptions): void {
  server.route({
    method: 'GET',
    path: '/api/v1/agent/hardware-install',
    options: { auth: o.auth },
    handler: (req, h) => {
      const node = o.nodeOf(req);
      // the plan's channel/user slot (ipmi proposal) win over the configured channel
      const text = power.hardwareInstallInstruction(node, { channel: o.channel, ...o.plan(node) });
      return h.response(text).type('text/plain; charset=utf-8').header('cache-control', 'no-store');
    },
  });
}
