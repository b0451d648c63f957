/**
 * Loading one barclamp directory into a checked, immutable Barclamp:
 *
 *   crowbar.yml                        manifest (manifest.ts)
 *   bc-template-<name>.json            proposal template
 *   bc-template-<name>.schema.json     JSON schema of a proposal (jsonschema.ts subset)
 *   migrate/NNN_<what>.json            proposal migrations 002..proposal_schema_version
 *   roles/<role>/...                   script roles (shell run by the node agent)
 *   chef/cookbooks/<cookbook>/         Chef cookbooks for chef roles (chef-solo)
 *   templates/                         config/OS templates (listed, served as content)
 *
 * Script bodies and the cookbook archive are content-addressed (sha256): the
 * run list names them by hash, the node agent fetches and verifies them.
 * Every problem is reported with the file and key it is in.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { writeTar, type TarInput } from '../lib/tar.js';
import { checkSchema, validateSchema, type JsonSchema } from './jsonschema.js';
import { parseManifest, type Manifest } from './manifest.js';
import { MIGRATION_FILE, parseMigration, type ProposalMigration } from './migrate.js';
import type { ProposalDoc } from './proposal.js';

/** A content-addressed blob a node may fetch (script or cookbook archive). */
export interface ContentBlob {
  sha256: string;
  /** Path inside the barclamp ("roles/ntp-client/run.sh", "chef/cookbooks.tar.gz"). */
  path: string;
  mediaType: string;
  data: Buffer;
}

/** A role with its loaded implementation. */
export interface LoadedRole {
  name: string;
  script?: ContentBlob;
  chef?: { recipes: string[]; cookbooks: ContentBlob };
}

/** A loaded, checked barclamp. */
export interface Barclamp {
  name: string;
  dir: string;
  manifest: Manifest;
  template: ProposalDoc;
  schema: JsonSchema;
  migrations: ProposalMigration[];
  roles: Record<string, LoadedRole>;
  /** Files under templates/ (relative paths). */
  templates: string[];
  /** sha256 over every file of the barclamp (path + contents, sorted). */
  tree_sha256: string;
}

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

function readJson(path: string, label: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CrowbarError('bad_request', `${label}: cannot read (${errorMessage(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CrowbarError('bad_request', `${label}: not valid JSON: ${errorMessage(e)}`);
  }
}

/** Every regular file below `dir` (relative, sorted); links and specials are refused. */
export function listFiles(dir: string, base = dir, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) throw new CrowbarError('bad_request', `${relative(base, p)}: symbolic links are not allowed in a barclamp`);
    if (st.isDirectory()) listFiles(p, base, out);
    else if (st.isFile()) out.push(relative(base, p));
    else throw new CrowbarError('bad_request', `${relative(base, p)}: only regular files and directories are allowed in a barclamp`);
  }
  return out;
}

/** Deterministic tar.gz of a directory (mtime 0), for cookbooks and uploads. */
export function packDirectory(dir: string, prefix = ''): Buffer {
  const entries: TarInput[] = listFiles(dir).map((f) => {
    const st = lstatSync(join(dir, f));
    return { path: prefix ? `${prefix}/${f}` : f, data: readFileSync(join(dir, f)), mode: st.mode & 0o111 ? 0o755 : 0o644 };
  });
  return gzipSync(writeTar(entries), { level: 9 });
}

function check(problems: string[], cond: boolean, msg: string): void {
  if (!cond) problems.push(msg);
}

/** Load and check the barclamp in `dir`. Throws `bad_request` listing the problems. */
export function loadBarclamp(dir: string): Barclamp {
  const manifestPath = join(dir, 'crowbar.yml');
  if (!existsSync(manifestPath)) throw new CrowbarError('bad_request', `${dir}: no crowbar.yml`);
  const files = listFiles(dir);
  const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), 'crowbar.yml');
  const name = manifest.barclamp.name;
  const problems: string[] = [];
  const tplFile = `bc-template-${name}.json`;
  const schemaFile = `bc-template-${name}.schema.json`;
  if (!files.includes(tplFile)) throw new CrowbarError('bad_request', `barclamp ${name}: missing proposal template ${tplFile}`);
  if (!files.includes(schemaFile)) throw new CrowbarError('bad_request', `barclamp ${name}: missing proposal schema ${schemaFile}`);
  const schemaRaw = readJson(join(dir, schemaFile), schemaFile);
  const schemaProblems = checkSchema(schemaRaw);
  if (schemaProblems.length) throw new CrowbarError('bad_request', `${schemaFile}: ${schemaProblems.join('; ')}`);
  const schema = schemaRaw as JsonSchema;
  const template = readJson(join(dir, tplFile), tplFile) as ProposalDoc;
  const tplErrors = validateSchema(schema, template);
  if (tplErrors.length) throw new CrowbarError('bad_request', `${tplFile} does not satisfy ${schemaFile}: ${tplErrors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  const dep = template.deployment?.[name];
  check(problems, template.id === `bc-template-${name}`, `${tplFile}: id must be "bc-template-${name}"`);
  check(problems, typeof template.attributes?.[name] === 'object', `${tplFile}: attributes.${name} is required`);
  if (!dep || typeof dep !== 'object') throw new CrowbarError('bad_request', `${tplFile}: deployment.${name} is required`);
  check(problems, Array.isArray(dep.element_order), `${tplFile}: deployment.${name}.element_order must be a list of batches`);
  dep.elements ??= {};
  dep.config ??= { environment: `${name}-config-default`, mode: 'full', transitions: false, transition_list: [] };
  const inOrder = new Set((dep.element_order ?? []).flat());
  for (const r of inOrder) check(problems, r in manifest.roles, `${tplFile}: element_order names role ${JSON.stringify(r)} which crowbar.yml does not define`);
  for (const r of Object.keys(manifest.roles)) check(problems, inOrder.has(r), `crowbar.yml: roles.${r} is in no batch of ${tplFile} element_order`);

  // Migrations 002..N for proposal_schema_version N.
  const migrations: ProposalMigration[] = [];
  for (const f of files.filter((x) => x.startsWith('migrate/') && x.endsWith('.json'))) {
    const base = f.slice('migrate/'.length);
    const m = MIGRATION_FILE.exec(base);
    if (!m) {
      problems.push(`${f}: migration files are named NNN_<what>.json`);
      continue;
    }
    migrations.push(parseMigration(f, Number(m[1]), readJson(join(dir, f), f)));
  }
  migrations.sort((a, b) => a.number - b.number);
  const psv = manifest.crowbar.proposal_schema_version;
  const numbers = migrations.map((m) => m.number);
  for (let n = 2; n <= psv; n++) check(problems, numbers.includes(n), `migrate/: proposal_schema_version is ${psv} but migration ${String(n).padStart(3, '0')} is missing`);
  for (const n of numbers) check(problems, n >= 2 && n <= psv, `migrate/${String(n).padStart(3, '0')}: outside 002..${psv} (crowbar.proposal_schema_version)`);
  if (new Set(numbers).size !== numbers.length) problems.push('migrate/: duplicate migration numbers');

  // Roles.
  let cookbooks: ContentBlob | undefined;
  const roles: Record<string, LoadedRole> = {};
  for (const [rn, spec] of Object.entries(manifest.roles)) {
    const role: LoadedRole = { name: rn };
    if (spec.script) {
      if (!files.includes(spec.script)) problems.push(`crowbar.yml: roles.${rn}.script: ${spec.script} does not exist`);
      else {
        const data = readFileSync(join(dir, spec.script));
        if (!data.subarray(0, 2).equals(Buffer.from('#!'))) problems.push(`${spec.script}: a script role must start with #!`);
        role.script = { sha256: sha256(data), path: spec.script, mediaType: 'text/x-shellscript', data };
      }
    }
    if (spec.chef) {
      for (const recipe of spec.chef.recipes) {
        const [cb, rc = 'default'] = recipe.split('::');
        const f = `chef/cookbooks/${cb}/recipes/${rc}.rb`;
        check(problems, files.includes(f), `crowbar.yml: roles.${rn}.chef.recipes: ${recipe} needs ${f}`);
      }
      if (!cookbooks && existsSync(join(dir, 'chef', 'cookbooks'))) {
        const data = packDirectory(join(dir, 'chef', 'cookbooks'), 'cookbooks');
        cookbooks = { sha256: sha256(data), path: 'chef/cookbooks.tar.gz', mediaType: 'application/gzip', data };
      }
      if (cookbooks) role.chef = { recipes: spec.chef.recipes, cookbooks };
    }
    roles[rn] = role;
  }
  if (problems.length) throw new CrowbarError('bad_request', `barclamp ${name}: ${problems.join('; ')}`, { errors: problems });
  const tree = createHash('sha256');
  for (const f of files) tree.update(f + '\0').update(readFileSync(join(dir, f))).update('\0');
  return {
    name,
    dir,
    manifest,
    template,
    schema,
    migrations,
    roles,
    templates: files.filter((f) => f.startsWith('templates/')),
    tree_sha256: tree.digest('hex'),
  };
}

/** Content blobs of a barclamp, by sha256. */
export function contentOf(bc: Barclamp): ContentBlob[] {
  const out = new Map<string, ContentBlob>();
  for (const r of Object.values(bc.roles)) {
    if (r.script) out.set(r.script.sha256, r.script);
    if (r.chef) out.set(r.chef.cookbooks.sha256, r.chef.cookbooks);
  }
  return [...out.values()];
}
