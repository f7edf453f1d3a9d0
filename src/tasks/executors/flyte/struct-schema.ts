import type { JsonObject, JsonValue } from '@bufbuild/protobuf';

/** One place where a value does not fit: the path below the input, and what was expected. */
export interface Misfit {
  path: string[];
  message: string;
}

/** Deepest `$ref` chain followed (a self-referencing model is checked that deep). */
const MAX_DEPTH = 32;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'int',
  number: 'float',
  string: 'str',
  boolean: 'bool',
  array: 'list',
  object: 'object',
  null: 'None',
};

function fitsType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    case 'null':
      return value === null;
    default:
      return true;
  }
}

/**
 * Checks a JSON value against the JSON Schema the official SDK stores with a dataclass or a
 * pydantic model (draft 2020-12 from mashumaro / pydantic): `type`, `required`, `properties`,
 * `additionalProperties` (as a schema), `items`, `enum`, `const`, `anyOf`/`oneOf` (Optional
 * and unions) and `$ref` into `$defs`/`definitions`. Other keywords (formats, bounds) are left
 * to the task's own validation on the cluster. Returns what does not fit, first problems first.
 */
export function checkStruct(value: unknown, schema: JsonObject): Misfit[] {
  const out: Misfit[] = [];
  walk(value, schema, schema, [], out, 0);
  return out;
}

function resolveRef(root: JsonObject, ref: string): JsonObject | undefined {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!m) return undefined;
  const defs = root[m[1] as string];
  const target = isObject(defs) ? defs[decodeURIComponent(m[2] as string)] : undefined;
  return isObject(target) ? (target as JsonObject) : undefined;
}

function walk(
  value: unknown,
  schema: JsonValue,
  root: JsonObject,
  path: string[],
  out: Misfit[],
  depth: number,
) {
  if (!isObject(schema) || depth > MAX_DEPTH) return;
  const s = schema as JsonObject;
  if (typeof s.$ref === 'string') {
    const target = resolveRef(root, s.$ref);
    if (target) walk(value, target, root, path, out, depth + 1);
    return;
  }
  const alternatives = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
  if (alternatives) {
    const fits = alternatives.some((alt) => {
      const trial: Misfit[] = [];
      walk(value, alt, root, path, trial, depth + 1);
      return trial.length === 0;
    });
    if (!fits) out.push({ path, message: `expected ${schemaName(s, root)}, got ${describe(value)}` });
    return;
  }
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value)) {
    out.push({ path, message: `expected ${JSON.stringify(s.const)}, got ${describe(value)}` });
    return;
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    out.push({
      path,
      message: `expected one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${describe(value)}`,
    });
    return;
  }
  const types = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? s.type.map(String) : [];
  if (types.length > 0 && !types.some((t) => fitsType(value, t))) {
    out.push({ path, message: `expected ${schemaName(s, root)}, got ${describe(value)}` });
    return;
  }
  if (Array.isArray(value) && s.items !== undefined) {
    value.forEach((item, i) => {
      walk(item, s.items as JsonValue, root, [...path, String(i)], out, depth + 1);
    });
  }
  if (isObject(value)) {
    const properties = isObject(s.properties) ? (s.properties as JsonObject) : {};
    for (const name of Array.isArray(s.required) ? s.required.map(String) : []) {
      if (!(name in value)) {
        const expected = properties[name] === undefined ? '' : ` (${schemaName(properties[name], root)})`;
        out.push({ path: [...path, name], message: `required field${expected} is missing` });
      }
    }
    for (const [key, item] of Object.entries(value)) {
      const sub = properties[key] ?? (isObject(s.additionalProperties) ? s.additionalProperties : undefined);
      if (sub !== undefined) walk(item, sub, root, [...path, key], out, depth + 1);
      else if (s.additionalProperties === false) {
        out.push({ path: [...path, key], message: `no field ${key} in ${schemaName(s, root)}` });
      }
    }
  }
}

/** A short name for a schema in messages: its title, or its type (`Optional[int]`, `list[str]`). */
function schemaName(schema: JsonValue, root: JsonObject, depth = 0): string {
  if (!isObject(schema) || depth > 4) return 'a value';
  const s = schema as JsonObject;
  if (typeof s.$ref === 'string') {
    const target = resolveRef(root, s.$ref);
    return target ? schemaName(target, root, depth + 1) : s.$ref;
  }
  if (typeof s.title === 'string' && (s.type === 'object' || s.properties !== undefined)) return s.title;
  const alternatives = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
  if (alternatives) {
    const names = alternatives.map((a) => schemaName(a, root, depth + 1));
    const some = names.filter((n) => n !== 'None');
    return some.length === 1 && names.length === 2 ? `Optional[${some[0]}]` : `Union[${names.join(', ')}]`;
  }
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  const type = typeof s.type === 'string' ? s.type : undefined;
  if (type === 'array') return `list[${schemaName(s.items ?? {}, root, depth + 1)}]`;
  if (type && type in TYPE_NAMES) return TYPE_NAMES[type] as string;
  return 'a value';
}
