/**
 * The ipmi, RAID and BIOS parts of a node's hardware-install plan, from the
 * ipmi, raid and bios barclamps' proposals. Hardware barclamps act in the
 * hardware-install phase, before a node can take roles (a commit waits for
 * ready nodes), so a proposal counts as soon as it is saved: its applied
 * document when it has one, else the saved draft. The node must be listed
 * under the barclamp's role (`ipmi-configure`, `raid-configure`, `bios-set`); for RAID the
 * proposal must also say `apply: true`. Otherwise nothing is done.
 */
import type { RaidSettings } from '../boot/install-config.js';
import { CrowbarError } from '../lib/errors.js';
import { RAID_MIN_DISKS, type BiosSpec, type RaidLevel, type RaidSpec } from './power/instruction.js';

/** The part of a proposal this module reads. */
export interface PlanProposalDocs {
  name: string;
  proposal: unknown;
  applied: unknown;
}

interface Doc {
  attributes?: Record<string, Record<string, unknown> | undefined>;
  deployment?: Record<string, { elements?: Record<string, unknown> } | undefined>;
}

/** The first proposal (by name) whose `role` lists `node`, with its attributes. */
function forNode(node: string, bc: string, role: string, proposals: readonly PlanProposalDocs[]): { name: string; attrs: Record<string, unknown> } | null {
  for (const p of [...proposals].sort((a, b) => a.name.localeCompare(b.name))) {
    const doc = (p.applied ?? p.proposal) as Doc | null;
    const members = doc?.deployment?.[bc]?.elements?.[role];
    if (Array.isArray(members) && members.includes(node)) return { name: p.name, attrs: doc?.attributes?.[bc] ?? {} };
  }
  return null;
}

/**
 * RAID plan of `node` from raid proposals. Throws `bad_request` for a
 * matching proposal the agent cannot build (level, disk count), so the
 * node's agent reports the reason instead of silently skipping RAID.
 */
export function raidPlanFor(node: string, proposals: readonly PlanProposalDocs[]): RaidSpec & { from?: string } {
  const m = forNode(node, 'raid', 'raid-configure', proposals);
  if (!m) return { level: 'none' };
  const a = m.attrs;
  if (a.apply !== true) return { level: 'none', from: m.name };
  const level = `raid${String(a.level)}` as RaidLevel;
  const disks = Array.isArray(a.disks) ? a.disks.filter((d): d is string => typeof d === 'string') : [];
  const min = (RAID_MIN_DISKS as Record<string, number>)[level];
  if (min === undefined) throw new CrowbarError('bad_request', `raid proposal ${m.name}: level ${String(a.level)} is not supported`);
  if (disks.length < min || (level === 'raid1' && disks.length !== 2)) throw new CrowbarError('bad_request', `raid proposal ${m.name}: ${level} needs ${level === 'raid1' ? 'exactly two' : `at least ${min}`} disks`);
  return { level, disks, from: m.name };
}

/**
 * The RAID layout an OS install puts the root on: level and disks of the raid
 * proposal that lists `node` (the same proposal hardware-install reads, whether
 * or not it says `apply`: the install wipes the disks anyway); null when none does.
 */
export function raidLayoutFor(node: string, proposals: readonly PlanProposalDocs[]): RaidSettings | null {
  const m = forNode(node, 'raid', 'raid-configure', proposals);
  if (!m) return null;
  const disks = Array.isArray(m.attrs.disks) ? m.attrs.disks.filter((d): d is string => typeof d === 'string') : [];
  return { level: String(m.attrs.level ?? ''), disks };
}

/** BIOS plan of `node` from bios proposals (settings KEY=value, optional vendor tool); null when none lists it. */
export function biosPlanFor(node: string, proposals: readonly PlanProposalDocs[]): (BiosSpec & { from: string }) | null {
  const m = forNode(node, 'bios', 'bios-set', proposals);
  if (!m) return null;
  const settings = Array.isArray(m.attrs.settings) ? m.attrs.settings.filter((s): s is string => typeof s === 'string') : [];
  const tool = typeof m.attrs.tool === 'string' && m.attrs.tool ? m.attrs.tool : undefined;
  return { settings, ...(tool ? { tool } : {}), from: m.name };
}

/**
 * ipmi settings of `node` from ipmi proposals: LAN channel, user slot, and
 * whether to configure the BMC at all; null when no proposal lists the node
 * (the appliance's `services.power` defaults then apply).
 */
export function ipmiPlanFor(node: string, proposals: readonly PlanProposalDocs[]): { bmc: boolean; channel?: number; userId?: number; from: string } | null {
  const m = forNode(node, 'ipmi', 'ipmi-configure', proposals);
  if (!m) return null;
  const int = (v: unknown, lo: number, hi: number): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? v : undefined);
  const channel = int(m.attrs.channel, 1, 15);
  const userId = int(m.attrs.user_id, 2, 63);
  return { bmc: m.attrs.enable !== false, ...(channel ? { channel } : {}), ...(userId ? { userId } : {}), from: m.name };
}
