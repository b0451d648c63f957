/**
 * The Chef role contract (pure): what a node needs to run a Chef role of its
 * run list with chef-solo in local mode. For one run-list entry:
 *   - node.json: a Chef node object (json_class Chef::Node): name,
 *     chef_environment, normal attributes (the proposal's attributes under
 *     the barclamp's name, plus `crowbar`: node, barclamp, proposal, role,
 *     peers, network), run_list `recipe[cookbook::recipe]`;
 *   - environment.json: the proposal's Chef environment
 *     (`<barclamp>-config-<proposal>`, Crowbar's naming);
 *   - solo.rb: local mode, paths relative to the file (cookbooks/, nodes/,
 *     environments/, cache/);
 *   - the barclamp's cookbook archive (cookbooks/<cookbook>/...), by sha256.
 */
import type { RunList, RunListEntry } from './runlist.js';

/** A Chef node object as Chef serialises it. */
export interface ChefNode {
  name: string;
  chef_environment: string;
  json_class: 'Chef::Node';
  chef_type: 'node';
  normal: Record<string, unknown>;
  default: Record<string, never>;
  override: Record<string, never>;
  automatic: Record<string, never>;
  run_list: string[];
}

/** A Chef environment object. */
export interface ChefEnvironment {
  name: string;
  description: string;
  json_class: 'Chef::Environment';
  chef_type: 'environment';
  default_attributes: Record<string, never>;
  override_attributes: Record<string, never>;
  cookbook_versions: Record<string, never>;
}

/** The Chef environment name of a proposal (Crowbar's `<barclamp>-config-<proposal>`). */
export function chefEnvironmentName(barclamp: string, proposal: string): string {
  return `${barclamp}-config-${proposal}`;
}

/** `ntp::default` -> `recipe[ntp::default]`; a bare cookbook name means its default recipe. */
export function recipeRef(recipe: string): string {
  return `recipe[${recipe.includes('::') ? recipe : `${recipe}::default`}]`;
}

/** The Chef node object of one run-list entry. */
export function chefNode(rl: RunList, e: RunListEntry): ChefNode {
  return {
    name: rl.node,
    chef_environment: chefEnvironmentName(e.barclamp, e.proposal),
    json_class: 'Chef::Node',
    chef_type: 'node',
    normal: {
      [e.barclamp]: e.attributes,
      crowbar: { node: rl.node, barclamp: e.barclamp, proposal: e.proposal, role: e.role, peers: e.peers, network: rl.network, run_list_revision: rl.revision },
    },
    default: {},
    override: {},
    automatic: {},
    run_list: (e.chef?.recipes ?? []).map(recipeRef),
  };
}

/** The Chef environment of one run-list entry. */
export function chefEnvironment(e: RunListEntry): ChefEnvironment {
  return {
    name: chefEnvironmentName(e.barclamp, e.proposal),
    description: `Crowbar proposal ${e.barclamp}/${e.proposal}`,
    json_class: 'Chef::Environment',
    chef_type: 'environment',
    default_attributes: {},
    override_attributes: {},
    cookbook_versions: {},
  };
}

/** Ruby single-quoted string. */
function rq(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** chef-solo configuration for one run-list entry; paths are relative to the solo.rb file. */
export function soloRb(rl: RunList, e: RunListEntry): string {
  return [
    `# Crowbar: chef-solo configuration for role ${e.role} of proposal ${e.barclamp}/${e.proposal} on ${rl.node}.`,
    '# Laid out by images/join/chef-role.sh: cookbooks/, nodes/<node>.json, environments/<env>.json, cache/.',
    'crowbar_root = File.expand_path(File.dirname(__FILE__))',
    'local_mode true',
    `node_name ${rq(rl.node)}`,
    `environment ${rq(chefEnvironmentName(e.barclamp, e.proposal))}`,
    "cookbook_path [File.join(crowbar_root, 'cookbooks')]",
    "node_path File.join(crowbar_root, 'nodes')",
    "environment_path File.join(crowbar_root, 'environments')",
    "file_cache_path File.join(crowbar_root, 'cache')",
    'log_location STDOUT',
    '',
  ].join('\n');
}
