/**
 * A small declarative validator for configuration objects: every field has a
 * kind, an optional default and an optional check. Unknown keys and bad values
 * raise `config.invalid` naming the full key path (e.g. `services.dhcp.port`).
 */
import { CrowbarError } from '../lib/errors.js';

/** Specification of one field. */
export type FieldSpec =
  | { kind: 'string'; default?: string; check?: (v: string) => string | null; optional?: boolean }
  | { kind: 'number'; default?: number; min?: number; max?: number; integer?: boolean; optional?: boolean }
  | { kind: 'boolean'; default?: boolean; optional?: boolean }
  | { kind: 'enum'; values: readonly string[]; default?: string; optional?: boolean }
  | { kind: 'list'; of: FieldSpec; default?: unknown[]; optional?: boolean }
  | { kind: 'object'; fields: Record<string, FieldSpec>; optional?: boolean };

function fail(path: string, msg: string): never {
  throw new CrowbarError('config.invalid', `config: ${path || '(root)'}: ${msg}`, { key: path });
}

/** Validate `value` against `spec`, filling defaults; returns the normalised value. */
export function validateField(spec: FieldSpec, value: unknown, path: string): unknown {
  if (value === undefined || value === null) {
    if ('default' in spec && spec.default !== undefined) return structuredClone(spec.default);
    if (spec.kind === 'object') return validateField(spec, {}, path);
    if (spec.optional) return undefined;
    fail(path, 'is required');
  }
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') fail(path, `must be a string, got ${JSON.stringify(value)}`);
      const err = spec.check?.(value);
      if (err) fail(path, err);
      return value;
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, `must be a number, got ${JSON.stringify(value)}`);
      if (spec.integer && !Number.isInteger(value)) fail(path, `must be an integer, got ${value}`);
      if (spec.min !== undefined && value < spec.min) fail(path, `must be >= ${spec.min}, got ${value}`);
      if (spec.max !== undefined && value > spec.max) fail(path, `must be <= ${spec.max}, got ${value}`);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') fail(path, `must be true or false, got ${JSON.stringify(value)}`);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) fail(path, `must be one of ${spec.values.join(', ')}, got ${JSON.stringify(value)}`);
      return value;
    case 'list': {
      if (!Array.isArray(value)) fail(path, 'must be a list');
      return value.map((v, i) => validateField(spec.of, v, `${path}[${i}]`));
    }
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) fail(path, 'must be a mapping');
      const obj = value as Record<string, unknown>;
      for (const k of Object.keys(obj)) if (!(k in spec.fields)) fail(path ? `${path}.${k}` : k, `unknown key (allowed: ${Object.keys(spec.fields).join(', ')})`);
      const out: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(spec.fields)) {
        const v = validateField(f, obj[k], path ? `${path}.${k}` : k);
        if (v !== undefined) out[k] = v;
      }
      return out;
    }
  }
}

/** Recursively freeze an object graph. */
export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
