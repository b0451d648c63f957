/**
 * The small template language of install configurations (kickstart, preseed,
 * autoinstall user-data). Deliberately tiny and safe:
 *
 *   {{path}}                 a value (dotted path: `net.address`, `d.name` inside a loop)
 *   {{path|sh}}              the value single-quoted for a POSIX shell
 *   {{path|q}}               the value as a double-quoted JSON/YAML scalar
 *   {{path|join:,}}          a list of scalars joined by the text after the colon
 *   {{#if path}}..{{else}}..{{/if}}   non-empty string/list, true, non-zero number
 *   {{#unless path}}..{{/unless}}
 *   {{#each path as x}}..{{/each}}    a list; `x`, `x_index` (0-based) and `x_first`/`x_last` inside
 *
 * Every plain value is escaped for the output format: `line` formats
 * (kickstart, preseed) refuse anything but one printable line (no value can
 * add a command or a debconf question); `yaml` quotes every plain value as a
 * JSON string (a valid YAML double-quoted scalar). A missing value is an
 * error naming the template and the placeholder, never a blank.
 */
import { CrowbarError } from '../lib/errors.js';

/** A value a template may reference. */
export type TemplateValue = string | number | boolean | null | readonly TemplateValue[] | { readonly [k: string]: TemplateValue };

/** Output formats with their default escaping. */
export type TemplateFormat = 'line' | 'yaml';

type Part =
  | { t: 'text'; s: string }
  | { t: 'var'; path: string; filter: string | null; arg: string }
  | { t: 'if'; path: string; negate: boolean; then: Part[]; else: Part[] }
  | { t: 'each'; path: string; as: string; body: Part[] };

const TAG = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/;
const NAME = /^[a-z_][a-z0-9_]*$/;
const PRINTABLE = /^[\x20-\x7e]*$/;

function fail(name: string, msg: string): never {
  throw new CrowbarError('internal', `${name}: ${msg}`);
}

/** Parse a template into its parts; throws on unbalanced or unknown tags. */
export function parseTemplate(src: string, name = 'template'): Part[] {
  const root: Part[] = [];
  const stack: Array<{ part: Extract<Part, { t: 'if' | 'each' }>; inElse: boolean }> = [];
  const out = (): Part[] => {
    const top = stack[stack.length - 1];
    if (!top) return root;
    if (top.part.t === 'each') return top.part.body;
    return top.inElse ? top.part.else : top.part.then;
  };
  let last = 0;
  for (const m of src.matchAll(TAG)) {
    const idx = m.index;
    if (idx > last) out().push({ t: 'text', s: src.slice(last, idx) });
    last = idx + m[0].length;
    const tag = m[1];
    const line = src.slice(0, idx).split('\n').length;
    let mm: RegExpExecArray | null;
    if ((mm = /^#(if|unless)\s+(\S+)$/.exec(tag))) {
      if (!PATH.test(mm[2])) fail(name, `line ${line}: bad path ${JSON.stringify(mm[2])}`);
      const part: Part = { t: 'if', path: mm[2], negate: mm[1] === 'unless', then: [], else: [] };
      out().push(part);
      stack.push({ part, inElse: false });
    } else if ((mm = /^#each\s+(\S+)\s+as\s+(\S+)$/.exec(tag))) {
      if (!PATH.test(mm[1]) || !NAME.test(mm[2])) fail(name, `line ${line}: bad each ${JSON.stringify(tag)}`);
      const part: Part = { t: 'each', path: mm[1], as: mm[2], body: [] };
      out().push(part);
      stack.push({ part, inElse: false });
    } else if (tag === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.part.t !== 'if' || top.inElse) fail(name, `line ${line}: {{else}} outside {{#if}}`);
      top.inElse = true;
    } else if ((mm = /^\/(if|unless|each)$/.exec(tag))) {
      const top = stack.pop();
      const want = mm[1] === 'each' ? 'each' : 'if';
      if (!top || top.part.t !== want) fail(name, `line ${line}: {{/${mm[1]}}} does not close an open block`);
    } else if ((mm = /^([a-z0-9_.]+)(?:\|([a-z]+)(?::(.*))?)?$/.exec(tag))) {
      if (!PATH.test(mm[1])) fail(name, `line ${line}: bad path ${JSON.stringify(mm[1])}`);
      const filter = mm[2] ?? null;
      if (filter !== null && !['sh', 'q', 'join'].includes(filter)) fail(name, `line ${line}: unknown filter ${filter}`);
      out().push({ t: 'var', path: mm[1], filter, arg: mm[3] ?? '' });
    } else fail(name, `line ${line}: unknown tag {{${tag}}}`);
  }
  if (stack.length) fail(name, `unclosed {{#${stack[stack.length - 1].part.t}}}`);
  if (last < src.length) out().push({ t: 'text', s: src.slice(last) });
  return root;
}

type Scope = ReadonlyArray<Readonly<Record<string, TemplateValue>>>;

function lookup(scope: Scope, path: string, name: string): TemplateValue {
  const [head, ...rest] = path.split('.');
  let v: TemplateValue | undefined;
  for (let i = scope.length - 1; i >= 0; i--) {
    if (Object.prototype.hasOwnProperty.call(scope[i], head)) {
      v = scope[i][head];
      break;
    }
  }
  for (const k of rest) {
    if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, k)) {
      v = undefined;
      break;
    }
    v = (v as Record<string, TemplateValue>)[k];
  }
  if (v === undefined) fail(name, `no value for {{${path}}}`);
  return v;
}

function truthy(v: TemplateValue): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return v !== null && v !== false && v !== '' && v !== 0;
}

function scalar(v: TemplateValue, path: string, name: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fail(name, `{{${path}}} is not a scalar`);
}

/** POSIX shell single-quoting. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function emit(v: TemplateValue, p: Extract<Part, { t: 'var' }>, format: TemplateFormat, name: string): string {
  let s: string;
  if (p.filter === 'join') {
    if (!Array.isArray(v)) fail(name, `{{${p.path}|join}} is not a list`);
    s = (v as TemplateValue[]).map((x) => scalar(x, p.path, name)).join(p.arg);
  } else s = scalar(v, p.path, name);
  if (p.filter === 'q') return JSON.stringify(s);
  if (p.filter === 'sh') {
    if (!PRINTABLE.test(s)) fail(name, `value of {{${p.path}}} is not a printable single line`);
    return shQuote(s);
  }
  if (format === 'yaml' && typeof v !== 'number' && typeof v !== 'boolean') return JSON.stringify(s);
  if (!PRINTABLE.test(s)) fail(name, `value of {{${p.path}}} is not a printable single line`);
  return s;
}

function renderParts(parts: readonly Part[], scope: Scope, format: TemplateFormat, name: string): string {
  let out = '';
  for (const p of parts) {
    if (p.t === 'text') out += p.s;
    else if (p.t === 'var') out += emit(lookup(scope, p.path, name), p, format, name);
    else if (p.t === 'if') out += renderParts(truthy(lookup(scope, p.path, name)) !== p.negate ? p.then : p.else, scope, format, name);
    else {
      const list = lookup(scope, p.path, name);
      if (!Array.isArray(list)) fail(name, `{{#each ${p.path}}} is not a list`);
      const items = list as readonly TemplateValue[];
      items.forEach((item, i) => {
        const frame = { [p.as]: item, [`${p.as}_index`]: i, [`${p.as}_first`]: i === 0, [`${p.as}_last`]: i === items.length - 1 };
        out += renderParts(p.body, [...scope, frame], format, name);
      });
    }
  }
  return out;
}

/**
 * Render `src` with `ctx`. Block tags alone on a line take their line with
 * them, so templates stay readable without blank lines in the output.
 */
export function renderInstallTemplate(src: string, ctx: Readonly<Record<string, TemplateValue>>, format: TemplateFormat, name = 'template'): string {
  const compact = src.replace(/^[ \t]*(\{\{\s*(?:#(?:if|unless|each)\s[^{}]*|else|\/(?:if|unless|each))\s*\}\})[ \t]*\n/gm, '$1');
  return renderParts(parseTemplate(compact, name), [ctx], format, name);
}
