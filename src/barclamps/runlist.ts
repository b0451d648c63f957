/**
 * A node's run list: the roles applied proposals put on it, in barclamp run
 * order then element_order batch, each with what the node agent needs to run
 * it: the script (by sha256) and/or chef recipes with the cookbook archive
 * (by sha256), the proposal's attributes, the peers of every role of the
 * proposal (Crowbar's search: the nagios server finds its clients) and a
 * flat environment for script roles (CB_ATTR_*, CB_PEERS_*, CB_NET_*).
 * `revision` is a hash of the whole list: the agent re-runs when it changes.
 */
import { createHash } from 'node:crypto';
import type { Barclamp } from './bundle.js';
import type { ProposalDoc } from './proposal.js';

/** A peer node of a role. */
export interface Peer {
  name: string;
  /** Admin address, or null when none is allocated. */
  address: string | null;
}

/** One role entry of a run list. */
export interface RunListEntry {
  barclamp: string;
  proposal: string;
  role: string;
  run_order: number;
  batch: number;
  script?: { sha256: string; url: string };
  chef?: { recipes: string[]; cookbooks: { sha256: string; url: string } };
  attributes: Record<string, unknown>;
  peers: Record<string, Peer[]>;
  env: Record<string, string>;
}

/** A node's full run list. */
export interface RunList {
  node: string;
  revision: string;
  roles: RunListEntry[];
  network: unknown;
}

/** An applied proposal as the run list sees it. */
export interface AppliedProposal {
  barclamp: Barclamp;
  name: string;
  doc: ProposalDoc;
}

/** Environment variable name fragment: upper-case, non-alphanumerics to '_'. */
export function envKey(s: string): string {
  return s.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

/** Flatten attributes into CB_ATTR_* variables (scalars; lists of scalars space-joined; objects recurse, depth 4). */
export function flattenAttributes(attrs: Record<string, unknown>, prefix = 'CB_ATTR', out: Record<string, string> = {}, depth = 0): Record<string, string> {
  for (const [k, v] of Object.entries(attrs)) {
    const key = `${prefix}_${envKey(k)}`;
    if (v === null || v === undefined) out[key] = '';
    else if (Array.isArray(v)) {
      if (v.every((x) => x === null || typeof x !== 'object')) out[key] = v.map((x) => String(x ?? '')).join(' ');
    } else if (typeof v === 'object') {
      if (depth < 4) flattenAttributes(v as Record<string, unknown>, key, out, depth + 1);
    } else out[key] = String(v);
  }
  return out;
}

/** Inputs besides the proposals. */
export interface RunListContext {
  node: string;
  /** Base URL of the appliance (content URLs are built on it). */
  applianceUrl: string;
  applianceAddress: string;
  /** Admin address of a node by name (peers). */
  addressOf(node: string): string | null;
  /** network -> address of this node. */
  addresses: Record<string, string>;
  /** Interface plan of this node (network barclamp), with CB_NET_* env. */
  network: { interfaces: Array<Record<string, unknown>> } | null;
}

function networkEnv(ctx: RunListContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [net, addr] of Object.entries(ctx.addresses)) env[`CB_ADDR_${envKey(net)}`] = addr;
  const nets: string[] = [];
  for (const i of ctx.network?.interfaces ?? []) {
    const n = envKey(String(i.network));
    nets.push(String(i.network));
    env[`CB_NET_${n}_DEVICE`] = String(i.device ?? '');
    env[`CB_NET_${n}_ADDRESS`] = String(i.address ?? '');
    env[`CB_NET_${n}_NETMASK`] = String(i.netmask ?? '');
    env[`CB_NET_${n}_VLAN`] = i.vlan === null || i.vlan === undefined ? '' : String(i.vlan);
    env[`CB_NET_${n}_MEMBERS`] = Array.isArray(i.members) ? i.members.join(' ') : '';
    const team = i.team as { name: string; mode: number } | undefined;
    env[`CB_NET_${n}_TEAM`] = team?.name ?? '';
    env[`CB_NET_${n}_TEAM_MODE`] = team ? String(team.mode) : '';
    env[`CB_NET_${n}_ROUTER`] = String(i.router ?? '');
  }
  env.CB_NETWORKS = nets.join(' ');
  return env;
}

/** Compute the run list of `ctx.node` from the applied proposals. */
export function computeRunList(applied: readonly AppliedProposal[], ctx: RunListContext, extraNetEnv: Record<string, string> = {}): RunList {
  const roles: RunListEntry[] = [];
  const base = ctx.applianceUrl.replace(/\/+$/, '');
  const netEnv = { ...networkEnv(ctx), ...extraNetEnv };
  for (const p of applied) {
    const bc = p.barclamp;
    const dep = p.doc.deployment[bc.name];
    if (!dep) continue;
    const attributes = p.doc.attributes[bc.name] ?? {};
    const peers: Record<string, Peer[]> = {};
    for (const [role, nodes] of Object.entries(dep.elements)) peers[role] = nodes.map((n) => ({ name: n, address: ctx.addressOf(n) }));
    dep.element_order.forEach((batch, bi) => {
      for (const role of batch) {
        if (!(dep.elements[role] ?? []).includes(ctx.node)) continue;
        const impl = bc.roles[role];
        const env: Record<string, string> = {
          CB_NODE: ctx.node,
          CB_ROLE: role,
          CB_BARCLAMP: bc.name,
          CB_PROPOSAL: p.name,
          CB_APPLIANCE_URL: base,
          CB_APPLIANCE_ADDRESS: ctx.applianceAddress,
          ...netEnv,
          ...flattenAttributes(attributes),
        };
        for (const [r, ps] of Object.entries(peers)) env[`CB_PEERS_${envKey(r)}`] = ps.map((x) => `${x.name}=${x.address ?? ''}`).join(' ');
        const e: RunListEntry = { barclamp: bc.name, proposal: p.name, role, run_order: bc.manifest.crowbar.run_order, batch: bi, attributes, peers, env };
        if (impl?.script) e.script = { sha256: impl.script.sha256, url: `${base}/api/v1/content/${impl.script.sha256}` };
        if (impl?.chef) e.chef = { recipes: impl.chef.recipes, cookbooks: { sha256: impl.chef.cookbooks.sha256, url: `${base}/api/v1/content/${impl.chef.cookbooks.sha256}` } };
        roles.push(e);
      }
    });
  }
  roles.sort((a, b) => a.run_order - b.run_order || a.barclamp.localeCompare(b.barclamp) || a.proposal.localeCompare(b.proposal) || a.batch - b.batch);
  const revision = createHash('sha256').update(JSON.stringify({ roles, network: ctx.network })).digest('hex').slice(0, 32);
  return { node: ctx.node, revision, roles, network: ctx.network };
}
