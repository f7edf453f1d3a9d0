// Flyte literal types and literals for the stand-in and the tests, built by hand from the
// protocol messages (not with the executor's own conversion code, so a test that compares the
// two catches a mistake in either).
import { clone, create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { encode as pack } from '@msgpack/msgpack';
import {
  type Literal,
  LiteralSchema,
  type LiteralType,
  LiteralTypeSchema,
  SimpleType,
  TypeStructureSchema,
} from '../../src/tasks/executors/flyte/idl.js';

type TypeInit = MessageInitShape<typeof LiteralTypeSchema>;
const simple = (value: SimpleType, tag?: string): LiteralType =>
  create(LiteralTypeSchema, { type: { case: 'simple', value }, ...(tag ? { structure: { tag } } : {}) });

/** A copy of a type with the SDK's union tag (its transformer's name) in `structure`. */
const tagged = (type: LiteralType, tag: string): LiteralType => {
  const copy = clone(LiteralTypeSchema, type);
  copy.structure = create(TypeStructureSchema, { tag });
  return copy;
};

/** Literal types as the official SDK declares Python types. */
export const t = {
  int: simple(SimpleType.INTEGER),
  float: simple(SimpleType.FLOAT),
  str: simple(SimpleType.STRING),
  bool: simple(SimpleType.BOOLEAN),
  datetime: simple(SimpleType.DATETIME),
  timedelta: simple(SimpleType.DURATION),
  none: simple(SimpleType.NONE),
  list: (item: TypeInit): LiteralType =>
    create(LiteralTypeSchema, { type: { case: 'collectionType', value: item } }),
  dict: (value: TypeInit): LiteralType =>
    create(LiteralTypeSchema, { type: { case: 'mapValueType', value } }),
  enum: (...values: string[]): LiteralType =>
    create(LiteralTypeSchema, { type: { case: 'enumType', value: { values } } }),
  /** `Optional[x]`: a union of x and None, each variant tagged with its transformer's name. */
  optional: (inner: LiteralType, tag: string): LiteralType =>
    create(LiteralTypeSchema, {
      type: {
        case: 'unionType',
        value: { variants: [tagged(inner, tag), simple(SimpleType.NONE, 'none')] },
      },
    }),
  union: (...variants: [LiteralType, string][]): LiteralType =>
    create(LiteralTypeSchema, {
      type: { case: 'unionType', value: { variants: variants.map(([v, tag]) => tagged(v, tag)) } },
    }),
  /** A dataclass / pydantic model: STRUCT with its JSON Schema and the msgpack annotation. */
  model: (schema: Record<string, unknown>): LiteralType =>
    create(LiteralTypeSchema, {
      type: { case: 'simple', value: SimpleType.STRUCT },
      metadata: schema as never,
      annotation: { annotations: { 'cache-key-metadata': { 'serialization-format': 'msgpack' } } },
      structure: { tag: 'Pydantic Transformer' },
    }),
  /** An untyped `dict`. */
  anyDict: create(LiteralTypeSchema, {
    type: { case: 'simple', value: SimpleType.STRUCT },
    annotation: { annotations: { 'cache-key-metadata': { 'serialization-format': 'msgpack' } } },
  }),
};

const scalarOf = (value: MessageInitShape<typeof LiteralSchema>['value']): Literal =>
  create(LiteralSchema, { value });

/** Literals, built as the official SDK builds them. */
export const lit = {
  int: (n: number | bigint): Literal =>
    scalarOf({
      case: 'scalar',
      value: { value: { case: 'primitive', value: { value: { case: 'integer', value: BigInt(n) } } } },
    }),
  float: (n: number): Literal =>
    scalarOf({
      case: 'scalar',
      value: { value: { case: 'primitive', value: { value: { case: 'floatValue', value: n } } } },
    }),
  str: (s: string): Literal =>
    scalarOf({
      case: 'scalar',
      value: { value: { case: 'primitive', value: { value: { case: 'stringValue', value: s } } } },
    }),
  bool: (b: boolean): Literal =>
    scalarOf({
      case: 'scalar',
      value: { value: { case: 'primitive', value: { value: { case: 'boolean', value: b } } } },
    }),
  datetime: (ms: number): Literal =>
    scalarOf({
      case: 'scalar',
      value: {
        value: { case: 'primitive', value: { value: { case: 'datetime', value: timestampFromMs(ms) } } },
      },
    }),
  duration: (seconds: number, nanos = 0): Literal =>
    scalarOf({
      case: 'scalar',
      value: {
        value: {
          case: 'primitive',
          value: { value: { case: 'duration', value: { seconds: BigInt(seconds), nanos } } },
        },
      },
    }),
  none: (): Literal => scalarOf({ case: 'scalar', value: { value: { case: 'noneType', value: {} } } }),
  list: (...items: Literal[]): Literal => scalarOf({ case: 'collection', value: { literals: items } }),
  map: (entries: Record<string, Literal>): Literal => scalarOf({ case: 'map', value: { literals: entries } }),
  union: (value: Literal, type: LiteralType): Literal =>
    scalarOf({ case: 'scalar', value: { value: { case: 'union', value: { value, type } } } }),
  msgpack: (json: unknown): Literal =>
    scalarOf({
      case: 'scalar',
      value: { value: { case: 'binary', value: { value: pack(json), tag: 'msgpack' } } },
    }),
};

/** Reads a primitive literal (the stand-in's tasks read their inputs with these). */
export const read = {
  int(l: Literal | undefined): number {
    const v = l?.value.case === 'scalar' ? l.value.value.value : undefined;
    if (v?.case === 'primitive' && v.value.value.case === 'integer') return Number(v.value.value.value);
    if (v?.case === 'union') return read.int(v.value.value);
    throw new Error('not an int literal');
  },
  str(l: Literal | undefined): string {
    const v = l?.value.case === 'scalar' ? l.value.value.value : undefined;
    if (v?.case === 'primitive' && v.value.value.case === 'stringValue') return v.value.value.value;
    if (v?.case === 'union') return read.str(v.value.value);
    throw new Error('not a str literal');
  },
};
