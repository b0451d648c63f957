/**
 * A small JSON Schema (draft-07 subset) validator for proposal schemas.
 * Keywords: type (string or list; integer/number/string/boolean/object/
 * array/null), properties, required, additionalProperties (boolean or
 * schema), items (one schema), enum, const, pattern, minimum, maximum,
 * minLength, maxLength, minItems, maxItems, description/title/default/$schema
 * (annotations). Anything else in a schema is refused by `checkSchema`, so a
 * barclamp cannot rely on a keyword we would silently ignore.
 * Errors name the field path as `attributes.ntp.servers[1]`.
 */

/** A JSON schema (subset). */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  description?: string;
  title?: string;
  default?: unknown;
  $schema?: string;
}

/** One validation failure. */
export interface SchemaError {
  /** Field path, e.g. `attributes.ntp.servers[1]` ('' for the root). */
  path: string;
  message: string;
}

const KEYWORDS = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'pattern', 'minimum', 'maximum',
  'minLength', 'maxLength', 'minItems', 'maxItems', 'description', 'title', 'default', '$schema',
]);
const TYPES = new Set(['integer', 'number', 'string', 'boolean', 'object', 'array', 'null']);

function join(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function isType(v: unknown, t: string): boolean {
  const actual = typeName(v);
  if (t === 'number') return actual === 'number' || actual === 'integer';
  return actual === t;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Check that `schema` only uses supported keywords with well-formed values;
 * returns problems with their location inside the schema (empty when fine).
 */
export function checkSchema(schema: unknown, path = '#'): string[] {
  const out: string[] = [];
  if (!isObj(schema)) return [`${path}: a schema must be an object`];
  for (const [k, v] of Object.entries(schema)) {
    if (!KEYWORDS.has(k)) {
      out.push(`${path}: unsupported keyword ${JSON.stringify(k)} (supported: ${[...KEYWORDS].join(', ')})`);
      continue;
    }
    switch (k) {
      case 'type': {
        const ts = Array.isArray(v) ? v : [v];
        for (const t of ts) if (typeof t !== 'string' || !TYPES.has(t)) out.push(`${path}/type: unknown type ${JSON.stringify(t)}`);
        break;
      }
      case 'properties':
        if (!isObj(v)) out.push(`${path}/properties: must be an object`);
        else for (const [p, s] of Object.entries(v)) out.push(...checkSchema(s, `${path}/properties/${p}`));
        break;
      case 'required':
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) out.push(`${path}/required: must be a list of strings`);
        break;
      case 'additionalProperties':
        if (typeof v !== 'boolean') out.push(...checkSchema(v, `${path}/additionalProperties`));
        break;
      case 'items':
        out.push(...checkSchema(v, `${path}/items`));
        break;
      case 'enum':
        if (!Array.isArray(v) || v.length === 0) out.push(`${path}/enum: must be a non-empty list`);
        break;
      case 'pattern':
        try {
          new RegExp(String(v), 'u');
        } catch {
          out.push(`${path}/pattern: not a valid regular expression`);
        }
        break;
      case 'minimum':
      case 'maximum':
      case 'minLength':
      case 'maxLength':
      case 'minItems':
      case 'maxItems':
        if (typeof v !== 'number' || !Number.isFinite(v)) out.push(`${path}/${k}: must be a number`);
        break;
      default:
        break;
    }
  }
  return out;
}

/** Validate `value` against `schema`; returns every failure (empty when valid). */
export function validateSchema(schema: JsonSchema, value: unknown, path = '', out: SchemaError[] = []): SchemaError[] {
  const where = path;
  if (schema.type !== undefined) {
    const ts = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!ts.some((t) => isType(value, t))) {
      out.push({ path: where, message: `must be ${ts.join(' or ')}, got ${typeName(value)}` });
      return out;
    }
  }
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value))
    out.push({ path: where, message: `must be ${JSON.stringify(schema.const)}` });
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    out.push({ path: where, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}` });
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push({ path: where, message: `must be >= ${schema.minimum}, got ${value}` });
    if (schema.maximum !== undefined && value > schema.maximum) out.push({ path: where, message: `must be <= ${schema.maximum}, got ${value}` });
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) out.push({ path: where, message: `must be at least ${schema.minLength} characters` });
    if (schema.maxLength !== undefined && value.length > schema.maxLength) out.push({ path: where, message: `must be at most ${schema.maxLength} characters` });
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
      out.push({ path: where, message: `must match /${schema.pattern}/, got ${JSON.stringify(value)}` });
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push({ path: where, message: `must have at least ${schema.minItems} items` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems) out.push({ path: where, message: `must have at most ${schema.maxItems} items` });
    if (schema.items) value.forEach((v, i) => validateSchema(schema.items!, v, `${path}[${i}]`, out));
  }
  if (isObj(value)) {
    for (const r of schema.required ?? []) if (!(r in value)) out.push({ path: join(path, r), message: 'is required' });
    const props = schema.properties ?? {};
    for (const [k, v] of Object.entries(value)) {
      if (k in props) validateSchema(props[k], v, join(path, k), out);
      else if (schema.additionalProperties === false) out.push({ path: join(path, k), message: `unknown field (allowed: ${Object.keys(props).join(', ') || 'none'})` });
      else if (isObj(schema.additionalProperties)) validateSchema(schema.additionalProperties, v, join(path, k), out);
    }
  }
  return out;
}

/** Format errors one per line as `path: message`. */
export function formatSchemaErrors(errors: readonly SchemaError[]): string {
  return errors.map((e) => `${e.path || '(root)'}: ${e.message}`).join('; ');
}
