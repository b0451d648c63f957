/**
 * The RAID part of a node's hardware-install plan, from the raid barclamp's
 * proposals. Hardware barclamps act in the hardware-install phase, before a
 * node can take roles (a commit waits for ready nodes), so a proposal counts
 * as soon as it is saved: its applied document when it has one, else the
 * saved draft. The node must be listed under the `raid-configure` role and
 * the proposal must say `apply: true`; otherwise no RAID is built.
 */
import { CrowbarError } from '../lib/errors.js';

/** The part of a proposal this module reads. */
export interface RaidProposalDocs {
  name: string;
  proposal: unknown;
  applied: unknown;
}

/** What hardware-install.sh builds (docs/ipmi.md). */
export interface RaidPlan {
  level: 'none' | 'raid1';
  disks?: string[];
  /** Proposal the plan came from. */
  from?: string;
}

interface RaidDoc {
  attributes?: { raid?: { level?: unknown; disks?: unknown; apply?: unknown } };
  deployment?: { raid?: { elements?: Record<string, unknown> } };
}

/**
 * RAID plan of `node` from raid proposals (first match by proposal name).
 * Throws `bad_request` for a matching proposal whose level the agent cannot
 * build, so the node's agent reports the reason instead of skipping RAID.
 */
export function raidPlanFor(node: string, proposals: readonly RaidProposalDocs[]): RaidPlan {
  for (const p of [...proposals].sort((a, b) => a.name.localeCompare(b.name))) {
    const doc = (p.applied ?? p.proposal) as RaidDoc | null;
    const members = doc?.deployment?.raid?.elements?.['raid-configure'];
    if (!Array.isArray(members) || !members.includes(node)) continue;
    const a = doc?.attributes?.raid;
    if (a?.apply !== true) return { level: 'none', from: p.name };
    const disks = Array.isArray(a.disks) ? a.disks.filter((d): d is string => typeof d === 'string') : [];
    if (a.level !== '1') throw new CrowbarError('bad_request', `raid proposal ${p.name}: level ${String(a.level)} is not built in hardware-install (only 1)`);
    if (disks.length !== 2) throw new CrowbarError('bad_request', `raid proposal ${p.name}: raid1 needs exactly two disks`);
    return { level: 'raid1', disks, from: p.name };
  }
  return { level: 'none' };
}
