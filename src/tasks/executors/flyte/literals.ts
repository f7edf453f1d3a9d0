import { create, type JsonObject } from '@bufbuild/protobuf';
import { type Duration, DurationSchema, type Timestamp, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { encode as pack, decode as unpack } from '@msgpack/msgpack';
import {
  BinarySchema,
  type Literal,
  LiteralCollectionSchema,
  LiteralMapSchema,
  LiteralSchema,
  type LiteralType,
  PrimitiveSchema,
  ScalarSchema,
  SimpleType,
  UnionSchema,
  VoidSchema,
} from './idl.js';
import { isNone, MESSAGEPACK, structSchema, typeName } from './literal-types.js';
import { checkStruct, type Misfit } from './struct-schema.js';

/** A JSON value that does not fit a Flyte type: where, and what was expected. */
export class LiteralMismatch extends Error {
  constructor(readonly misfits: Misfit[]) {
    super(misfits[0]?.message ?? 'does not fit');
    this.name = 'LiteralMismatch';
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function mismatch(path: string[], type: LiteralType, value: unknown): LiteralMismatch {
  return new LiteralMismatch([{ path, message: `expected ${typeName(type)}, got ${describe(value)}` }]);
}

const scalar = (value: Parameters<typeof create<typeof ScalarSchema>>[1]): Literal =>
  create(LiteralSchema, { value: { case: 'scalar', value: create(ScalarSchema, value) } });

const primitive = (value: Parameters<typeof create<typeof PrimitiveSchema>>[1]): Literal =>
  scalar({ value: { case: 'primitive', value: create(PrimitiveSchema, value) } });

// ISO 8601 date-time: date, optional time with up to 9 fraction digits, optional zone (UTC if absent).
const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|z|[+-]\d{2}:?\d{2})?$/;

/** An ISO 8601 date-time as a protobuf Timestamp, with nanoseconds; undefined when not one. */
export function parseDatetime(text: string): Timestamp | undefined {
  const m = DATETIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (
    Number.isNaN(ms) ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  )
    return undefined;
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (!z) return undefined;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  }
  return create(TimestampSchema, {
    seconds: BigInt(ms / 1000 - offsetMin * 60),
    nanos: Number(frac.padEnd(9, '0')),
  });
}

/** A Timestamp as ISO 8601 in UTC, keeping sub-millisecond digits when there are any. */
export function formatDatetime(ts: Timestamp): string {
  const iso = new Date(Number(ts.seconds) * 1000).toISOString(); // …:SS.000Z
  const frac = String(ts.nanos).padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac ? `.${frac}` : ''}Z`;
}

// ISO 8601 duration (what pydantic writes for a timedelta): PnDTnHnMnS, signs allowed.
const DURATION =
  /^(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Seconds (a JSON number) or an ISO 8601 duration as a protobuf Duration. */
export function parseDuration(value: unknown): Duration | undefined {
  let seconds: number;
  if (typeof value === 'number' && Number.isFinite(value)) seconds = value;
  else if (typeof value === 'string') {
    const m = DURATION.exec(value);
    if (!m || value === 'P' || value.endsWith('T')) return undefined;
    const [, sign, d = '0', h = '0', mi = '0', s = '0'] = m;
    seconds = (Number(d) * 86400 + Number(h) * 3600 + Number(mi) * 60 + Number(s)) * (sign ? -1 : 1);
  } else return undefined;
  const whole = Math.trunc(seconds);
  return create(DurationSchema, { seconds: BigInt(whole), nanos: Math.round((seconds - whole) * 1e9) });
}

function toInteger(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  // Beyond 2^53 JSON numbers lose digits: such ints may be sent as strings of digits.
  if (typeof value === 'string' && /^-?\d{1,19}$/.test(value)) {
    const n = BigInt(value);
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return n;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function simpleToLiteral(value: unknown, type: LiteralType, simple: SimpleType, path: string[]): Literal {
  switch (simple) {
    case SimpleType.INTEGER: {
      const n = toInteger(value);
      if (n === undefined) throw mismatch(path, type, value);
      return primitive({ value: { case: 'integer', value: n } });
    }
    case SimpleType.FLOAT:
      // An int is a fine float (as in the SDK), a bool is not.
      if (typeof value !== 'number') throw mismatch(path, type, value);
      return primitive({ value: { case: 'floatValue', value } });
    case SimpleType.STRING:
      if (typeof value !== 'string') throw mismatch(path, type, value);
      return primitive({ value: { case: 'stringValue', value } });
    case SimpleType.BOOLEAN:
      if (typeof value !== 'boolean') throw mismatch(path, type, value);
      return primitive({ value: { case: 'boolean', value } });
    case SimpleType.DATETIME: {
      const ts = typeof value === 'string' ? parseDatetime(value) : undefined;
      if (!ts) throw mismatchWith(path, type, value, ' (an ISO 8601 date-time)');
      return primitive({ value: { case: 'datetime', value: ts } });
    }
    case SimpleType.DURATION: {
      const d = parseDuration(value);
      if (!d) throw mismatchWith(path, type, value, ' (seconds, or an ISO 8601 duration such as PT1H30M)');
      return primitive({ value: { case: 'duration', value: d } });
    }
    case SimpleType.NONE:
      if (value !== null && value !== undefined) throw mismatch(path, type, value);
      return scalar({ value: { case: 'noneType', value: create(VoidSchema) } });
    case SimpleType.BINARY:
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value))
        throw mismatchWith(path, type, value, ' (base64)');
      return scalar({
        value: {
          case: 'binary',
          value: create(BinarySchema, { value: Buffer.from(value, 'base64'), tag: '' }),
        },
      });
    case SimpleType.STRUCT:
      return structToLiteral(value, type, path);
    default:
      throw new LiteralMismatch([{ path, message: `${typeName(type)} cannot be given as JSON` }]);
  }
}

function mismatchWith(path: string[], type: LiteralType, value: unknown, hint: string): LiteralMismatch {
  return new LiteralMismatch([
    { path, message: `expected ${typeName(type)}${hint}, got ${describe(value)}` },
  ]);
}

/**
 * A dataclass, a pydantic model or an untyped dict: as the official SDK does it, MessagePack of
 * the JSON object in a `Binary` tagged `msgpack`. A model's JSON Schema (in the type's
 * metadata) checks the object first, so a bad field is reported here with its path.
 */
function structToLiteral(value: unknown, type: LiteralType, path: string[]): Literal {
  if (!isObject(value)) throw mismatch(path, type, value);
  const schema = structSchema(type);
  if (schema) {
    const misfits = checkStruct(value, schema);
    if (misfits.length > 0) {
      throw new LiteralMismatch(misfits.map((m) => ({ path: [...path, ...m.path], message: m.message })));
    }
  }
  return scalar({
    value: { case: 'binary', value: create(BinarySchema, { value: pack(value), tag: MESSAGEPACK }) },
  });
}

/**
 * Turns a JSON value into the literal of a Flyte type, as the official Python SDK would encode
 * the same value: ints (a JSON integer, or a string of digits beyond 2^53), floats (an int is
 * fine), str, bool, datetime (ISO 8601), timedelta (seconds or ISO 8601), lists, dict[str, T],
 * enums (one of the names), Optional and unions (the first variant that fits, an int preferring
 * an int variant), and dataclasses / pydantic models / untyped dicts as MessagePack.
 * Throws `LiteralMismatch` naming the path and the expected type.
 */
export function toLiteral(value: unknown, type: LiteralType, path: string[] = []): Literal {
  const t = type.type;
  switch (t.case) {
    case 'simple':
      return simpleToLiteral(value, type, t.value, path);
    case 'collectionType': {
      if (!Array.isArray(value)) throw mismatch(path, type, value);
      const literals = value.map((item, i) => toLiteral(item, t.value, [...path, String(i)]));
      return create(LiteralSchema, {
        value: { case: 'collection', value: create(LiteralCollectionSchema, { literals }) },
      });
    }
    case 'mapValueType': {
      if (!isObject(value)) throw mismatch(path, type, value);
      const literals: Record<string, Literal> = {};
      for (const [k, v] of Object.entries(value)) literals[k] = toLiteral(v, t.value, [...path, k]);
      return create(LiteralSchema, { value: { case: 'map', value: create(LiteralMapSchema, { literals }) } });
    }
    case 'enumType':
      if (typeof value !== 'string' || !t.value.values.includes(value)) throw mismatch(path, type, value);
      return primitive({ value: { case: 'stringValue', value } });
    case 'unionType':
      return unionToLiteral(value, type, t.value.variants, path);
    default:
      throw new LiteralMismatch([{ path, message: `${typeName(type)} cannot be given as JSON` }]);
  }
}

function unionToLiteral(value: unknown, type: LiteralType, variants: LiteralType[], path: string[]): Literal {
  const isInt = (v: LiteralType) => v.type.case === 'simple' && v.type.value === SimpleType.INTEGER;
  // The SDK picks the variant of the value's own Python type first: an integer is an int.
  const ordered =
    typeof value === 'number' && Number.isInteger(value)
      ? [...variants.filter(isInt), ...variants.filter((v) => !isInt(v))]
      : value === null || value === undefined
        ? variants.filter(isNone)
        : variants.filter((v) => !isNone(v));
  for (const variant of ordered) {
    try {
      const inner = toLiteral(value, variant, path);
      return scalar({
        value: { case: 'union', value: create(UnionSchema, { value: inner, type: variant }) },
      });
    } catch (err) {
      if (!(err instanceof LiteralMismatch)) throw err;
    }
  }
  throw mismatch(path, type, value);
}

/**
 * A literal back to JSON: the inverse of `toLiteral` (ints beyond 2^53 as strings, datetimes as
 * ISO 8601 in UTC, durations as seconds, MessagePack structs as objects, unions as their
 * value). Data Flyte keeps elsewhere (files, directories, data frames, offloaded literals)
 * comes back as `{"uri": …}`: wirehub does not read the cluster's storage.
 */
export function fromLiteral(literal: Literal | undefined): unknown {
  const v = literal?.value;
  switch (v?.case) {
    case 'scalar':
      return fromScalar(v.value);
    case 'collection':
      return v.value.literals.map(fromLiteral);
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v.value.literals)) out[k] = fromLiteral(item);
      return out;
    }
    case 'offloadedMetadata':
      return { uri: v.value.uri, size_bytes: Number(v.value.sizeBytes) };
    default:
      return null;
  }
}

function fromScalar(s: NonNullable<Extract<Literal['value'], { case: 'scalar' }>['value']>): unknown {
  const v = s.value;
  switch (v.case) {
    case 'primitive': {
      const p = v.value.value;
      switch (p.case) {
        case 'integer':
          return Number.isSafeInteger(Number(p.value)) ? Number(p.value) : p.value.toString();
        case 'floatValue':
        case 'stringValue':
        case 'boolean':
          return p.value;
        case 'datetime':
          return formatDatetime(p.value);
        case 'duration':
          return Number(p.value.seconds) + p.value.nanos / 1e9;
        default:
          return null;
      }
    }
    case 'noneType':
      return null;
    case 'union':
      return fromLiteral(v.value.value);
    case 'binary':
      return v.value.tag === MESSAGEPACK
        ? toJson(unpack(v.value.value))
        : Buffer.from(v.value.value).toString('base64');
    case 'generic':
      return v.value as JsonObject;
    case 'blob':
      return { uri: v.value.uri };
    case 'schema':
    case 'structuredDataset':
      return { uri: v.value.uri };
    case 'error':
      return { error: v.value.message };
    default:
      return null;
  }
}

/** What MessagePack decoded, made JSON: bigints and byte arrays have no JSON form of their own. */
function toJson(value: unknown): unknown {
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJson(v)]));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  }
  return value;
}
