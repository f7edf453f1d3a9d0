import type { JsonObject } from '@bufbuild/protobuf';
import { type LiteralType, SimpleType } from './idl.js';

/** What the official SDK writes in `annotation` of a STRUCT it serialises as MessagePack. */
export const CACHE_KEY_METADATA = 'cache-key-metadata';
export const SERIALIZATION_FORMAT = 'serialization-format';
export const MESSAGEPACK = 'msgpack';

const SIMPLE_NAMES: Record<SimpleType, string> = {
  [SimpleType.NONE]: 'None',
  [SimpleType.INTEGER]: 'int',
  [SimpleType.FLOAT]: 'float',
  [SimpleType.STRING]: 'str',
  [SimpleType.BOOLEAN]: 'bool',
  [SimpleType.DATETIME]: 'datetime',
  [SimpleType.DURATION]: 'timedelta',
  [SimpleType.BINARY]: 'bytes',
  [SimpleType.ERROR]: 'error',
  [SimpleType.STRUCT]: 'struct',
};

/** The JSON Schema the SDK stores in `metadata` of a dataclass / pydantic STRUCT, if any. */
export function structSchema(type: LiteralType): JsonObject | undefined {
  const meta = type.metadata;
  return meta && Object.keys(meta).length > 0 ? meta : undefined;
}

/** The model's name from a STRUCT's JSON Schema (`title`), e.g. `Order`. */
function structTitle(type: LiteralType): string | undefined {
  const title = structSchema(type)?.title;
  return typeof title === 'string' ? title : undefined;
}

/**
 * The Python-side name of a Flyte type, for messages: `int`, `list[str]`, `dict[str, float]`,
 * `Optional[int]`, `enum('low', 'high')`, `Order (dataclass/pydantic)`, `dict` (an untyped dict).
 */
export function typeName(type: LiteralType | undefined): string {
  if (!type) return 'unknown';
  const t = type.type;
  switch (t.case) {
    case 'simple': {
      if (t.value === SimpleType.STRUCT) {
        const title = structTitle(type);
        return title ? `${title} (dataclass/pydantic)` : 'dict';
      }
      return SIMPLE_NAMES[t.value] ?? `simple type ${t.value}`;
    }
    case 'collectionType':
      return `list[${typeName(t.value)}]`;
    case 'mapValueType':
      return `dict[str, ${typeName(t.value)}]`;
    case 'enumType':
      return `enum(${t.value.values.map((v) => `'${v}'`).join(', ')})`;
    case 'unionType': {
      const variants = t.value.variants;
      const some = variants.filter((v) => !isNone(v));
      if (some.length === 1 && some.length < variants.length) return `Optional[${typeName(some[0])}]`;
      return `Union[${variants.map(typeName).join(', ')}]`;
    }
    case 'blob':
      return 'File/Dir (blob)';
    case 'schema':
      return 'schema';
    case 'structuredDatasetType':
      return 'DataFrame (structured dataset)';
    default:
      return 'unknown';
  }
}

/** True for the `None` type (the empty variant of an Optional). */
export function isNone(type: LiteralType): boolean {
  return type.type.case === 'simple' && type.type.value === SimpleType.NONE;
}

/** True when a missing input of this type means `None`: an Optional (a union with None). */
export function acceptsNone(type: LiteralType | undefined): boolean {
  if (!type) return false;
  if (isNone(type)) return true;
  return type.type.case === 'unionType' && type.type.value.variants.some(isNone);
}
