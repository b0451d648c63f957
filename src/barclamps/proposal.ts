/**
 * Proposals (Crowbar's `bc-<barclamp>-<name>` documents) as pure data:
 * creating one from a barclamp's template with recommended placement,
 * structural and schema validation with field paths, the diff a commit
 * would make, and the element_order batches an apply runs through.
 */
import { CrowbarError } from '../lib/errors.js';
import type { Barclamp } from './bundle.js';
import { validateSchema, type JsonSchema, type SchemaError } from './jsonschema.js';

/** Crowbar's deployment section of one barclamp in a proposal. */
export interface Deployment {
  /** role -> node names. */
  elements: Record<string, string[]>;
  /** Batches of roles: applied in order, roles of one batch in parallel. */
  element_order: string[][];
  /** role -> node names being applied (filled while committing). */
  element_states?: Record<string, Record<string, string>>;
  config: { environment: string; mode: string; transitions: boolean; transition_list: string[] };
  /** Proposal schema revision (migrations). */
  schema_revision: number;
}

/** A proposal document. */
export interface ProposalDoc {
  id: string;
  description: string;
  attributes: Record<string, Record<string, unknown>>;
  deployment: Record<string, Deployment>;
}

/** Shape of `deployment.<bc>` every barclamp shares (checked besides the barclamp's own schema). */
export const DEPLOYMENT_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['elements', 'element_order', 'config'],
  additionalProperties: false,
  properties: {
    elements: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 253 } } },
    element_order: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
    element_states: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'string' } } },
    config: {
      type: 'object',
      additionalProperties: false,
      properties: {
        environment: { type: 'string' },
        mode: { type: 'string', enum: ['full', 'partial'] },
        transitions: { type: 'boolean' },
        transition_list: { type: 'array', items: { type: 'string' } },
      },
    },
    schema_revision: { type: 'integer', minimum: 1 },
  },
};

/** Proposal names: letters, digits, underscore, hyphen. */
export const PROPOSAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Crowbar's proposal id. */
export function proposalId(barclamp: string, name: string): string {
  return `bc-${barclamp}-${name}`;
}

/**
 * A new proposal from the barclamp's template. Placement: a role with
 * placement `first` gets the first of `readyNodes` (Crowbar's "first node ->
 * server role"), `all` gets every ready node (respecting max_count).
 */
export function proposalFromTemplate(bc: Barclamp, name: string, readyNodes: readonly string[]): ProposalDoc {
  if (!PROPOSAL_NAME.test(name)) throw new CrowbarError('bad_request', `proposal name ${JSON.stringify(name)}: letters, digits, '_' and '-' only`);
  const doc = structuredClone(bc.template);
  doc.id = proposalId(bc.name, name);
  const dep = doc.deployment[bc.name];
  dep.schema_revision = bc.manifest.crowbar.proposal_schema_version;
  for (const [role, spec] of Object.entries(bc.manifest.roles)) {
    const cur = dep.elements[role] ?? [];
    if (cur.length) continue;
    let pick: string[] = [];
    if (spec.placement === 'first') pick = readyNodes.slice(0, 1);
    else if (spec.placement === 'all') pick = [...readyNodes];
    if (spec.max_count !== undefined) pick = pick.slice(0, spec.max_count);
    dep.elements[role] = pick;
  }
  return doc;
}

/**
 * All problems of a proposal for barclamp `bc`: the schema's, plus the
 * structure Crowbar relies on (known roles, max_count, element_order).
 */
export function proposalProblems(bc: Barclamp, doc: unknown): SchemaError[] {
  const errors = validateSchema(bc.schema, doc);
  if (errors.length) return errors;
  const d = doc as ProposalDoc;
  if (!isObj(d.deployment) || !isObj(d.deployment[bc.name])) return [{ path: `deployment.${bc.name}`, message: 'is required' }];
  validateSchema(DEPLOYMENT_SCHEMA, d.deployment[bc.name], `deployment.${bc.name}`, errors);
  if (!isObj(d.attributes) || !isObj(d.attributes[bc.name])) errors.push({ path: `attributes.${bc.name}`, message: 'is required' });
  if (errors.length) return errors;
  const dep = d.deployment[bc.name];
  const roles = bc.manifest.roles;
  const elements = dep.elements ?? {};
  for (const [role, nodes] of Object.entries(elements)) {
    const path = `deployment.${bc.name}.elements.${role}`;
    if (!(role in roles)) errors.push({ path, message: `unknown role (roles of ${bc.name}: ${Object.keys(roles).join(', ')})` });
    if (!Array.isArray(nodes) || nodes.some((n) => typeof n !== 'string')) {
      errors.push({ path, message: 'must be a list of node names' });
      continue;
    }
    if (new Set(nodes).size !== nodes.length) errors.push({ path, message: 'lists a node twice' });
    const max = roles[role]?.max_count;
    if (max !== undefined && nodes.length > max) errors.push({ path, message: `at most ${max} node(s) may have this role, got ${nodes.length}` });
  }
  const seen = new Set<string>();
  (dep.element_order ?? []).forEach((batch, i) => {
    const path = `deployment.${bc.name}.element_order[${i}]`;
    if (!Array.isArray(batch)) return errors.push({ path, message: 'must be a list of roles' });
    batch.forEach((r, j) => {
      if (!(r in roles)) errors.push({ path: `${path}[${j}]`, message: `unknown role ${JSON.stringify(r)}` });
      if (seen.has(r)) errors.push({ path: `${path}[${j}]`, message: `role ${JSON.stringify(r)} appears twice in element_order` });
      seen.add(r);
    });
  });
  for (const role of Object.keys(elements))
    if (role in roles && !seen.has(role)) errors.push({ path: `deployment.${bc.name}.element_order`, message: `role ${role} has nodes but is in no batch` });
  return errors;
}

/** Throw `bad_request` listing every problem with its field path. */
export function assertProposalValid(bc: Barclamp, doc: unknown): ProposalDoc {
  const errors = proposalProblems(bc, doc);
  if (errors.length)
    throw new CrowbarError('bad_request', `proposal invalid: ${errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; ')}`, { errors });
  return doc as ProposalDoc;
}

/** One changed value between two documents. */
export interface DiffEntry {
  path: string;
  op: 'add' | 'remove' | 'change';
  from?: unknown;
  to?: unknown;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Structural diff of two JSON values (objects recurse; arrays and scalars compare whole). */
export function diffValues(a: unknown, b: unknown, path = '', out: DiffEntry[] = []): DiffEntry[] {
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in a)) out.push({ path: p, op: 'add', to: b[k] });
      else if (!(k in b)) out.push({ path: p, op: 'remove', from: a[k] });
      else diffValues(a[k], b[k], p, out);
    }
    return out;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path, op: a === undefined ? 'add' : b === undefined ? 'remove' : 'change', from: a, to: b });
  return out;
}

/** What committing `next` changes relative to what is applied (`applied`, or nothing). */
export interface CommitPlan {
  /** Attribute and deployment changes (element_states excluded). */
  changes: DiffEntry[];
  /** Per node: roles it gains and loses. */
  nodes: Record<string, { add: string[]; remove: string[] }>;
  /** Batches that will run: roles with their nodes. */
  batches: Array<Array<{ role: string; nodes: string[] }>>;
}

/** Strip run-time state (element_states) before diffing. */
function stable(doc: ProposalDoc | null): unknown {
  if (!doc) return {};
  const c = structuredClone(doc) as ProposalDoc;
  for (const d of Object.values(c.deployment ?? {})) delete d.element_states;
  return { attributes: c.attributes, deployment: c.deployment };
}

/** Role -> nodes map of a proposal's deployment for `bc`. */
export function roleNodes(doc: ProposalDoc | null, bc: string): Record<string, string[]> {
  return doc?.deployment?.[bc]?.elements ?? {};
}

/** The batches of an apply: element_order with each role's nodes (empty roles kept). */
export function batchesOf(doc: ProposalDoc, bc: string): Array<Array<{ role: string; nodes: string[] }>> {
  const dep = doc.deployment[bc];
  return dep.element_order.map((batch) => batch.map((role) => ({ role, nodes: [...(dep.elements[role] ?? [])] })));
}

/** The plan of committing `next` over `applied`. */
export function commitPlan(applied: ProposalDoc | null, next: ProposalDoc, bc: string): CommitPlan {
  const changes = diffValues(stable(applied), stable(next));
  const before = roleNodes(applied, bc);
  const after = roleNodes(next, bc);
  const nodes: Record<string, { add: string[]; remove: string[] }> = {};
  const touch = (n: string) => (nodes[n] ??= { add: [], remove: [] });
  for (const [role, ns] of Object.entries(after)) for (const n of ns) if (!(before[role] ?? []).includes(n)) touch(n).add.push(role);
  for (const [role, ns] of Object.entries(before)) for (const n of ns) if (!(after[role] ?? []).includes(n)) touch(n).remove.push(role);
  return { changes, nodes, batches: batchesOf(next, bc) };
}

/** Every node named by a proposal for `bc`. */
export function nodesOf(doc: ProposalDoc, bc: string): string[] {
  return [...new Set(Object.values(roleNodes(doc, bc)).flat())].sort();
}
