// Schema-driven form for proposal attributes (the JSON Schema subset the
// barclamps use: type, properties, required, additionalProperties, items,
// enum, const, pattern, minimum, maximum, minLength, maxLength, minItems,
// maxItems) and a validator for the same subset, so mistakes are shown next
// to the field before anything is sent; the server validates again.
import { h } from './dom.js';

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeOk(t, v) {
  const actual = typeOf(v);
  return t === actual || (t === 'number' && actual === 'integer');
}

/** Validate `v` against `s`; returns [{path, message}]. */
export function validate(s, v, path = '', out = []) {
  if (!s || typeof s !== 'object') return out;
  const types = s.type === undefined ? null : Array.isArray(s.type) ? s.type : [s.type];
  if (types && !types.some((t) => typeOk(t, v))) {
    out.push({ path, message: `must be ${types.join(' or ')}` });
    return out;
  }
  if (s.enum && !s.enum.some((x) => JSON.stringify(x) === JSON.stringify(v))) out.push({ path, message: `must be one of ${s.enum.map((x) => JSON.stringify(x)).join(', ')}` });
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(v)) out.push({ path, message: `must be ${JSON.stringify(s.const)}` });
  if (typeof v === 'string') {
    if (s.minLength !== undefined && v.length < s.minLength) out.push({ path, message: `at least ${s.minLength} characters` });
    if (s.maxLength !== undefined && v.length > s.maxLength) out.push({ path, message: `at most ${s.maxLength} characters` });
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) out.push({ path, message: `${JSON.stringify(v)} does not match ${s.pattern}` });
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) out.push({ path, message: `must be ≥ ${s.minimum}` });
    if (s.maximum !== undefined && v > s.maximum) out.push({ path, message: `must be ≤ ${s.maximum}` });
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) out.push({ path, message: `at least ${s.minItems} items` });
    if (s.maxItems !== undefined && v.length > s.maxItems) out.push({ path, message: `at most ${s.maxItems} items` });
    if (s.items) v.forEach((x, i) => validate(s.items, x, `${path}[${i}]`, out));
  }
  if (typeOf(v) === 'object') {
    for (const r of s.required || []) if (!(r in v)) out.push({ path: path ? `${path}.${r}` : r, message: 'is required' });
    for (const [k, x] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      if (s.properties && s.properties[k]) validate(s.properties[k], x, p, out);
      else if (s.additionalProperties === false) out.push({ path: p, message: 'unknown field' });
      else if (typeof s.additionalProperties === 'object') validate(s.additionalProperties, x, p, out);
    }
  }
  return out;
}

function primaryType(s) {
  if (!s) return null;
  if (Array.isArray(s.type)) return s.type.find((t) => t !== 'null') || null;
  return s.type || (s.properties ? 'object' : null);
}

/**
 * Build a form for value `v` with schema `s` at `path`. Returns
 * {el, get() -> value, fields: Map(path -> {setError})}. `get` throws
 * {path, message} for text that cannot be parsed at all (JSON fields).
 */
export function buildForm(s, v, path, label) {
  const fields = new Map();
  const el = build(s, v, path, label, fields);
  return { el: el.el, get: el.get, fields };
}

function fieldWrap(path, label, input, s, fields) {
  const err = h('span', { class: 'field-error', role: 'alert', dataset: { for: path } });
  const help = s && s.description ? h('small', { class: 'help' }, s.description) : null;
  const wrap = h('label', { class: 'field', dataset: { path } }, h('span', { class: 'field-label' }, label), input, help, err);
  fields.set(path, {
    setError(msg) {
      err.textContent = msg || '';
      wrap.classList.toggle('invalid', !!msg);
    },
  });
  return wrap;
}

function build(s, v, path, label, fields) {
  const t = primaryType(s);
  const id = `f-${path.replace(/[^A-Za-z0-9]+/g, '-')}`;
  if (t === 'object' && s.properties) {
    const kids = Object.entries(s.properties).map(([k, sub]) => [k, build(sub, v && typeof v === 'object' ? v[k] : undefined, `${path}.${k}`, sub.title || k, fields)]);
    const el = h('fieldset', { class: 'obj', dataset: { path } }, h('legend', {}, label), kids.map(([, c]) => c.el));
    const err = h('span', { class: 'field-error', role: 'alert', dataset: { for: path } });
    el.append(err);
    fields.set(path, { setError: (m) => (err.textContent = m || '') });
    return {
      el,
      get() {
        const out = v && typeof v === 'object' && !Array.isArray(v) ? { ...v } : {};
        for (const [k, c] of kids) {
          const x = c.get();
          if (x === undefined) delete out[k];
          else out[k] = x;
        }
        return out;
      },
    };
  }
  if (t === 'boolean') {
    const input = h('input', { type: 'checkbox', id, name: path, checked: v === true });
    return { el: fieldWrap(path, label, input, s, fields), get: () => input.checked };
  }
  if ((t === 'string' || t === 'integer' || t === 'number') && s.enum) {
    const input = h('select', { id, name: path }, s.enum.map((x) => h('option', { value: JSON.stringify(x), selected: JSON.stringify(x) === JSON.stringify(v) }, String(x))));
    return { el: fieldWrap(path, label, input, s, fields), get: () => JSON.parse(input.value) };
  }
  if (t === 'integer' || t === 'number') {
    const input = h('input', { type: 'text', inputmode: 'decimal', id, name: path, value: v === undefined || v === null ? '' : String(v) });
    return {
      el: fieldWrap(path, label, input, s, fields),
      get: () => {
        const x = input.value.trim();
        if (x === '') return undefined;
        const n = Number(x);
        return Number.isNaN(n) ? x : n;
      },
    };
  }
  if (t === 'string') {
    const input = h('input', { type: 'text', id, name: path, value: typeof v === 'string' ? v : '' });
    return { el: fieldWrap(path, label, input, s, fields), get: () => (input.value === '' && v === undefined ? undefined : input.value) };
  }
  const itemT = t === 'array' ? primaryType(s.items) : null;
  if (t === 'array' && (itemT === 'string' || itemT === 'integer' || itemT === 'number')) {
    const input = h('textarea', { id, name: path, rows: Math.max(2, (Array.isArray(v) ? v.length : 0) + 1), placeholder: 'one per line' });
    input.value = Array.isArray(v) ? v.join('\n') : '';
    return {
      el: fieldWrap(path, `${label} (one per line)`, input, s, fields),
      get: () =>
        input.value
          .split('\n')
          .map((x) => x.trim())
          .filter(Boolean)
          .map((x) => (itemT === 'string' ? x : Number.isNaN(Number(x)) ? x : Number(x))),
    };
  }
  // Anything else: JSON.
  const input = h('textarea', { id, name: path, class: 'json', rows: 6 });
  input.value = v === undefined ? '' : JSON.stringify(v, null, 2);
  return {
    el: fieldWrap(path, `${label} (JSON)`, input, s, fields),
    get: () => {
      if (input.value.trim() === '') return undefined;
      try {
        return JSON.parse(input.value);
      } catch (e) {
        throw { path, message: `not valid JSON: ${e.message}` };
      }
    },
  };
}

/** Show errors next to the nearest field of each error path; returns the unplaced ones. */
export function showErrors(fields, errors) {
  for (const f of fields.values()) f.setError('');
  const rest = [];
  const byField = new Map();
  for (const e of errors) {
    let p = e.path;
    while (p && !fields.has(p)) p = p.replace(/(\[\d+\]|\.[^.[\]]+)$/, '');
    if (p && fields.has(p)) byField.set(p, [...(byField.get(p) || []), e.path === p ? e.message : `${e.path.slice(p.length).replace(/^\./, '')}: ${e.message}`]);
    else rest.push(e);
  }
  for (const [p, msgs] of byField) fields.get(p).setError(msgs.join('; '));
  return rest;
}
