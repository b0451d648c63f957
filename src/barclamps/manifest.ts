/**
 * The barclamp manifest, `crowbar.yml` (design.md §3, Crowbar's own format):
 *
 *   barclamp: {name, display, description, version, requires, member, os_support}
 *   crowbar:  {layout: 1, order, run_order, proposal_schema_version}
 *   roles:    {<role>: {script?, chef?: {recipes}, max_count?, placement?, description?}}
 *   hooks:    {<node state>: {add_to_role: [<role>...]}}
 *   locale_additions: {<lang>: {...}}
 *
 * `parseManifest` turns the YAML text into a checked Manifest or throws one
 * `bad_request` listing every problem with its key path.
 */
import { parse as parseYaml } from 'yaml';
import { CrowbarError, errorMessage } from '../lib/errors.js';
import { NODE_STATES } from '../model/node.js';

/** Layouts this Crowbar understands. */
export const SUPPORTED_LAYOUTS = [1] as const;

/** Barclamp names: letters, digits, underscore; starts with a letter (no spaces, no hyphens). */
export const BARCLAMP_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Role names: lower-case letters, digits, '_' and '-' (Crowbar's `nagios-server`). */
export const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** How a role is implemented on the node. */
export interface RoleSpec {
  /** Script role: path of a shell script inside the barclamp directory. */
  script?: string;
  /** Chef role: recipes run with chef-solo from the barclamp's chef/cookbooks. */
  chef?: { recipes: string[] };
  /** Most nodes this role may be on (e.g. 1 for a server role). */
  max_count?: number;
  /** Placement recommended when a proposal is created: first ready node, all ready nodes, or none. */
  placement: 'first' | 'all' | 'none';
  description?: string;
}

/** Declarative action on a node transition. */
export interface HookSpec {
  /** Add the node to these roles of every applied proposal of the barclamp (and re-apply). */
  add_to_role: string[];
}

/** A checked crowbar.yml. */
export interface Manifest {
  barclamp: {
    name: string;
    display: string;
    description: string;
    version: string;
    requires: string[];
    member: string[];
    os_support: string[];
  };
  crowbar: { layout: number; order: number; run_order: number; proposal_schema_version: number };
  roles: Record<string, RoleSpec>;
  hooks: Partial<Record<string, HookSpec>>;
  locale_additions: Record<string, unknown>;
}

/** Why a barclamp name is invalid, or null when valid. */
export function barclampNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name === '') return 'is required (letters, digits and underscore)';
  if (/-/.test(name)) return `${JSON.stringify(name)} contains a hyphen; use letters, digits and underscore only`;
  if (/\s/.test(name)) return `${JSON.stringify(name)} contains a space; use letters, digits and underscore only`;
  if (!BARCLAMP_NAME.test(name)) return `${JSON.stringify(name)} is not a valid name (letters, digits, underscore; starts with a letter; at most 64 characters)`;
  return null;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Problems {
  readonly list: string[] = [];
  add(path: string, msg: string): void {
    this.list.push(`${path}: ${msg}`);
  }
}

function str(p: Problems, o: Record<string, unknown>, key: string, path: string, def: string): string {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') {
    p.add(`${path}.${key}`, 'must be a string');
    return def;
  }
  return v;
}

function strList(p: Problems, o: Record<string, unknown>, key: string, path: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    p.add(`${path}.${key}`, 'must be a list of strings');
    return [];
  }
  return v as string[];
}

function int(p: Problems, o: Record<string, unknown>, key: string, path: string, def: number | null): number {
  const v = o[key];
  if (v === undefined || v === null) {
    if (def === null) p.add(`${path}.${key}`, 'is required');
    return def ?? 0;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    p.add(`${path}.${key}`, `must be a non-negative integer, got ${JSON.stringify(v)}`);
    return def ?? 0;
  }
  return v;
}

/** Parse and check crowbar.yml text. `source` names the file in errors. */
export function parseManifest(text: string, source = 'crowbar.yml'): Manifest {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new CrowbarError('bad_request', `${source}: not valid YAML: ${errorMessage(e)}`);
  }
  return checkManifest(raw, source);
}

/** Check an already parsed manifest object. */
export function checkManifest(raw: unknown, source = 'crowbar.yml'): Manifest {
  const p = new Problems();
  if (!isObj(raw)) throw new CrowbarError('bad_request', `${source}: must be a mapping with 'barclamp' and 'crowbar' sections`);
  for (const k of Object.keys(raw))
    if (!['barclamp', 'crowbar', 'roles', 'hooks', 'locale_additions', 'nav', 'debs', 'rpms', 'gems', 'extra_files'].includes(k)) p.add(k, 'unknown section');
  const b = isObj(raw.barclamp) ? raw.barclamp : (p.add('barclamp', 'section is required'), {} as Record<string, unknown>);
  const c = isObj(raw.crowbar) ? raw.crowbar : (p.add('crowbar', 'section is required'), {} as Record<string, unknown>);

  const nameProblem = barclampNameProblem(b.name);
  if (nameProblem) p.add('barclamp.name', nameProblem);
  const name = typeof b.name === 'string' ? b.name : '';
  const requires = strList(p, b, 'requires', 'barclamp');
  for (const r of requires) {
    const bad = barclampNameProblem(r);
    if (bad) p.add('barclamp.requires', bad);
    if (r === name) p.add('barclamp.requires', `${name} cannot require itself`);
  }
  const version = str(p, b, 'version', 'barclamp', '0');
  const display = str(p, b, 'display', 'barclamp', name);
  const description = str(p, b, 'description', 'barclamp', '');
  const member = strList(p, b, 'member', 'barclamp');
  const osSupport = strList(p, b, 'os_support', 'barclamp');
  for (const k of Object.keys(b))
    if (!['name', 'display', 'description', 'version', 'requires', 'member', 'os_support', 'user_managed'].includes(k)) p.add(`barclamp.${k}`, 'unknown key');
  for (const k of Object.keys(c)) if (!['layout', 'order', 'run_order', 'proposal_schema_version'].includes(k)) p.add(`crowbar.${k}`, 'unknown key');

  const layout = int(p, c, 'layout', 'crowbar', null);
  if (c.layout !== undefined && !(SUPPORTED_LAYOUTS as readonly number[]).includes(layout))
    p.add('crowbar.layout', `unknown layout ${JSON.stringify(c.layout)} (this Crowbar reads layout ${SUPPORTED_LAYOUTS.join(', ')})`);
  const order = int(p, c, 'order', 'crowbar', null);
  const runOrder = int(p, c, 'run_order', 'crowbar', order);
  const psv = int(p, c, 'proposal_schema_version', 'crowbar', 1);
  if (c.proposal_schema_version !== undefined && psv < 1) p.add('crowbar.proposal_schema_version', 'must be at least 1');

  const roles: Record<string, RoleSpec> = {};
  if (raw.roles !== undefined) {
    if (!isObj(raw.roles)) p.add('roles', 'must be a mapping of role name -> role');
    else
      for (const [rn, rv] of Object.entries(raw.roles)) {
        const path = `roles.${rn}`;
        if (!ROLE_NAME.test(rn)) p.add(path, 'role names use lower-case letters, digits, "_" and "-"');
        const r = isObj(rv) ? rv : (p.add(path, 'must be a mapping'), {} as Record<string, unknown>);
        const spec: RoleSpec = { placement: 'none' };
        if (r.script !== undefined) {
          if (typeof r.script !== 'string' || r.script.startsWith('/') || r.script.split('/').includes('..')) p.add(`${path}.script`, 'must be a relative path inside the barclamp');
          else spec.script = r.script;
        }
        if (r.chef !== undefined) {
          const ch = isObj(r.chef) ? r.chef : {};
          const recipes = strList(p, ch, 'recipes', `${path}.chef`);
          if (recipes.length === 0) p.add(`${path}.chef.recipes`, 'must list at least one recipe');
          spec.chef = { recipes };
        }
        if (!spec.script && !spec.chef && p.list.every((x) => !x.startsWith(path))) p.add(path, 'needs a script or chef recipes');
        if (r.max_count !== undefined) {
          if (typeof r.max_count !== 'number' || !Number.isInteger(r.max_count) || r.max_count < 1) p.add(`${path}.max_count`, 'must be a positive integer');
          else spec.max_count = r.max_count;
        }
        if (r.placement !== undefined) {
          if (r.placement !== 'first' && r.placement !== 'all' && r.placement !== 'none') p.add(`${path}.placement`, 'must be first, all or none');
          else spec.placement = r.placement;
        }
        if (typeof r.description === 'string') spec.description = r.description;
        for (const k of Object.keys(r)) if (!['script', 'chef', 'max_count', 'placement', 'description'].includes(k)) p.add(`${path}.${k}`, 'unknown key');
        roles[rn] = spec;
      }
  }
  const hooks: Partial<Record<string, HookSpec>> = {};
  if (raw.hooks !== undefined) {
    if (!isObj(raw.hooks)) p.add('hooks', 'must be a mapping of node state -> actions');
    else
      for (const [state, hv] of Object.entries(raw.hooks)) {
        if (!(NODE_STATES as readonly string[]).includes(state)) p.add(`hooks.${state}`, `unknown node state (known: ${NODE_STATES.join(', ')})`);
        const h = isObj(hv) ? hv : (p.add(`hooks.${state}`, 'must be a mapping'), {} as Record<string, unknown>);
        const add = strList(p, h, 'add_to_role', `hooks.${state}`);
        for (const r of add) if (!(r in roles)) p.add(`hooks.${state}.add_to_role`, `unknown role ${JSON.stringify(r)}`);
        for (const k of Object.keys(h)) if (k !== 'add_to_role') p.add(`hooks.${state}.${k}`, 'unknown action (supported: add_to_role)');
        hooks[state] = { add_to_role: add };
      }
  }
  const locale = raw.locale_additions === undefined || raw.locale_additions === null ? {} : raw.locale_additions;
  if (!isObj(locale)) p.add('locale_additions', 'must be a mapping of language -> strings');

  if (p.list.length)
    throw new CrowbarError('bad_request', `${source}: ${p.list.join('; ')}`, { errors: p.list });
  return {
    barclamp: {
      name,
      display,
      description,
      version,
      requires,
      member,
      os_support: osSupport,
    },
    crowbar: { layout, order, run_order: runOrder, proposal_schema_version: psv },
    roles,
    hooks,
    locale_additions: locale as Record<string, unknown>,
  };
}

/**
 * Order barclamps so every barclamp comes after those it requires (ties by
 * run_order, then name). Throws `bad_request` naming a dependency cycle or a
 * requirement that is not among `manifests` (plus `alsoKnown`).
 */
export function orderByDependencies(manifests: readonly Manifest[], alsoKnown: ReadonlySet<string> = new Set()): Manifest[] {
  const byName = new Map(manifests.map((m) => [m.barclamp.name, m]));
  for (const m of manifests)
    for (const r of m.barclamp.requires)
      if (!byName.has(r) && !alsoKnown.has(r))
        throw new CrowbarError('bad_request', `barclamp ${m.barclamp.name}: requires unknown barclamp ${JSON.stringify(r)}`, { barclamp: m.barclamp.name, requires: r });
  const done = new Set<string>();
  const visiting: string[] = [];
  const out: Manifest[] = [];
  const sorted = [...manifests].sort((a, b) => a.crowbar.run_order - b.crowbar.run_order || a.barclamp.name.localeCompare(b.barclamp.name));
  const visit = (m: Manifest): void => {
    const n = m.barclamp.name;
    if (done.has(n)) return;
    const at = visiting.indexOf(n);
    if (at !== -1) {
      const cycle = [...visiting.slice(at), n].join(' -> ');
      throw new CrowbarError('bad_request', `dependency cycle: ${cycle}`, { cycle: [...visiting.slice(at), n] });
    }
    visiting.push(n);
    for (const r of m.barclamp.requires) {
      const dep = byName.get(r);
      if (dep) visit(dep);
    }
    visiting.pop();
    done.add(n);
    out.push(m);
  };
  for (const m of sorted) visit(m);
  return out;
}
