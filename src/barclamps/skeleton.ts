/**
 * `crowbar barclamp create NAME [company] [dir]`: writes a populated,
 * loadable barclamp skeleton (Crowbar's barclamp_create with its
 * ==BC-MODEL== substitution): crowbar.yml, proposal template and schema, a
 * server and a client script role, a Chef cookbook, templates/, migrate/.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CrowbarError } from '../lib/errors.js';
import { barclampNameProblem } from './manifest.js';

/** Write the skeleton of barclamp `name` into `<dir>/<name>`; returns that path. */
export function createSkeleton(name: string, company = 'Crowbar', dir = '.'): string {
  const problem = barclampNameProblem(name);
  if (problem) throw new CrowbarError('bad_request', `barclamp name: ${problem}`);
  const root = resolve(dir, name);
  if (existsSync(root)) throw new CrowbarError('conflict', `${root} already exists`);
  const role = name.toLowerCase().replace(/_/g, '-');
  const files: Record<string, string> = {
    'crowbar.yml': `# crowbar.yml: manifest of the ${name} barclamp (see docs/barclamps.md)
barclamp:
  name: ${name}
  display: ${name}
  description: "${name} barclamp by ${company.replace(/"/g, "'")}"
  version: "0.1.0"
  requires: [crowbar]
  member: [${name}]
  os_support: [debian-12, ubuntu-22.04]
crowbar:
  layout: 1
  order: 2000
  run_order: 2000
  proposal_schema_version: 1
roles:
  ${role}-server:
    script: roles/${role}-server/run.sh
    max_count: 1
    placement: first
    description: "The ${name} server (first ready node by default)."
  ${role}-client:
    script: roles/${role}-client/run.sh
    chef: {recipes: [${name}::client]}
    placement: all
    description: "Every other node: points at the server."
hooks:
  ready: {add_to_role: [${role}-client]}
locale_additions:
  en:
    barclamp:
      ${name}:
        display: "${name}"
`,
    [`bc-template-${name}.json`]:
      JSON.stringify(
        {
          id: `bc-template-${name}`,
          description: `Default proposal for the ${name} barclamp`,
          attributes: { [name]: { port: 8000, message: 'hello from crowbar' } },
          deployment: {
            [name]: {
              elements: {},
              element_order: [[`${role}-server`], [`${role}-client`]],
              config: { environment: `${name}-config-default`, mode: 'full', transitions: false, transition_list: [] },
              schema_revision: 1,
            },
          },
        },
        null,
        2,
      ) + '\n',
    [`bc-template-${name}.schema.json`]:
      JSON.stringify(
        {
          $schema: 'http://json-schema.org/draft-07/schema#',
          title: `${name} proposal`,
          type: 'object',
          required: ['id', 'attributes', 'deployment'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', pattern: `^bc-(template-${name}|${name}-[A-Za-z0-9][A-Za-z0-9_-]*)$` },
            description: { type: 'string', maxLength: 1024 },
            attributes: {
              type: 'object',
              required: [name],
              additionalProperties: false,
              properties: {
                [name]: {
                  type: 'object',
                  required: ['port', 'message'],
                  additionalProperties: false,
                  properties: { port: { type: 'integer', minimum: 1, maximum: 65535 }, message: { type: 'string', maxLength: 200 } },
                },
              },
            },
            deployment: { type: 'object', required: [name] },
          },
        },
        null,
        2,
      ) + '\n',
    [`roles/${role}-server/run.sh`]: `#!/bin/sh
# ${name} server role: run by the node agent with the run-list environment.
set -eu
R="\${CB_ROOT:-}"
mkdir -p "$R/etc/${name}"
printf 'port=%s\\nmessage=%s\\nclients=%s\\n' "$CB_ATTR_PORT" "$CB_ATTR_MESSAGE" "\${CB_PEERS_${role.toUpperCase().replace(/-/g, '_')}_CLIENT:-}" > "$R/etc/${name}/server.conf"
echo "${role}-server: configured on $CB_NODE"
`,
    [`roles/${role}-client/run.sh`]: `#!/bin/sh
# ${name} client role: finds the server among the proposal's peers.
set -eu
R="\${CB_ROOT:-}"
server=""
for p in \${CB_PEERS_${role.toUpperCase().replace(/-/g, '_')}_SERVER:-}; do server="\${p#*=}"; break; done
mkdir -p "$R/etc/${name}"
printf 'server=%s:%s\\n' "$server" "$CB_ATTR_PORT" > "$R/etc/${name}/client.conf"
echo "${role}-client: server $server"
`,
    [`chef/cookbooks/${name}/metadata.rb`]: `name '${name}'\nversion '0.1.0'\nmaintainer '${company.replace(/'/g, '')}'\n`,
    [`chef/cookbooks/${name}/recipes/client.rb`]: `# ${name}::client: the chef-solo variant of the client role.\ndirectory '/etc/${name}'\nfile '/etc/${name}/client.conf' do\n  content "port=#{node['${name}']['port']}\\n"\nend\n`,
    'templates/README': `Config and OS templates of the ${name} barclamp go here.\n`,
    'migrate/README': 'Proposal migrations: 002_<what>.json .. NNN_<what>.json for proposal_schema_version NNN (see docs/barclamps.md).\n',
    'README.md': `# ${name} barclamp\n\nCopyright ${company}. Created with \`crowbar barclamp create\`.\nInstall into a running appliance with \`crowbar barclamp install ${name}\`.\n`,
  };
  for (const [rel, text] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text, { mode: rel.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return root;
}
