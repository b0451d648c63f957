/**
 * Chef roles of a node's run list (docs/os-install.md, "Chef roles"): the
 * node object, environment, solo.rb and cookbook archive that
 * images/join/chef-role.sh fetches for one entry.
 */
import { chefEnvironment, chefNode, soloRb } from '../barclamps/chef.js';
import type { RunList, RunListEntry } from '../barclamps/runlist.js';
import { CrowbarError } from '../lib/errors.js';
import type { BarclampService } from './barclamps.js';
import type { ProposalService } from './proposals.js';

/** One served file. */
export interface ChefFile {
  body: string | Buffer;
  type: string;
}

/** The files of a Chef role entry. */
export const CHEF_FILES = ['node.json', 'environment.json', 'solo.rb', 'cookbooks.tar.gz'] as const;
/** A Chef role file name. */
export type ChefFileName = (typeof CHEF_FILES)[number];

/** Serves the Chef role files of run-list entries. */
export class ChefRoleService {
  constructor(
    private readonly proposals: Pick<ProposalService, 'runList'>,
    private readonly barclamps: Pick<BarclampService, 'blob'>,
  ) {}

  private entry(node: string, barclamp: string, proposal: string, role: string): { rl: RunList; e: RunListEntry } {
    const rl = this.proposals.runList(node);
    const e = rl.roles.find((r) => r.barclamp === barclamp && r.proposal === proposal && r.role === role);
    if (!e) throw new CrowbarError('not_found', `${node} has no role ${role} of proposal ${barclamp}/${proposal} in its run list`);
    if (!e.chef) throw new CrowbarError('not_found', `role ${role} of barclamp ${barclamp} is not a Chef role`);
    return { rl, e };
  }

  /** One file of a Chef role entry. */
  file(node: string, barclamp: string, proposal: string, role: string, file: string): ChefFile {
    if (!(CHEF_FILES as readonly string[]).includes(file)) throw new CrowbarError('not_found', `no Chef file ${file} (one of ${CHEF_FILES.join(', ')})`);
    const { rl, e } = this.entry(node, barclamp, proposal, role);
    switch (file as ChefFileName) {
      case 'node.json':
        return { body: JSON.stringify(chefNode(rl, e), null, 2) + '\n', type: 'application/json' };
      case 'environment.json':
        return { body: JSON.stringify(chefEnvironment(e), null, 2) + '\n', type: 'application/json' };
      case 'solo.rb':
        return { body: soloRb(rl, e), type: 'text/x-ruby; charset=utf-8' };
      case 'cookbooks.tar.gz': {
        const blob = this.barclamps.blob(e.chef!.cookbooks.sha256);
        if (!blob) throw new CrowbarError('not_found', `cookbook archive ${e.chef!.cookbooks.sha256} of ${barclamp} is gone (barclamp upgraded?)`);
        return { body: blob.data, type: 'application/gzip' };
      }
    }
  }
}
