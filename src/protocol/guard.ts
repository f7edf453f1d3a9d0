/**
 * Small hand-written parsers for the JSON the client reads, so the browser SDK carries no
 * zod (zod was 88 % of its bundle). They do what the matching zod schemas do, no more:
 * check a value, drop unknown keys of objects, keep absent optional keys absent. The zod schemas in `rt.ts` and `runs.ts` stay the definition
 * (the server validates with them; the guards' types are checked equal to theirs and a
 * property test checks they accept and reject the same values).
 *
 * @example
 * ```ts
 * const position = object({ epoch: string, offset: int });
 * const checked = parse(position, JSON.parse(text)); // { success, data } or { success, issues }
 * ```
 */

/** One reason a value was refused: where (`publications.0.offset`) and what was expected. */
export interface GuardIssue {
  path: string;
  message: string;
}

/** Checks `value` (found at `path`) and returns what to keep; throws a {@link GuardFailure}. */
export type Guard<T> = (value: unknown, path: string) => T;

/** A guard for a key that may be missing. */
export type OptionalGuard<T> = Guard<T | undefined> & { readonly optional: true };

/** What a guard returns. */
export type GuardOutput<G> = G extends Guard<infer T> ? T : never;

/** Thrown by a guard; {@link parse} turns it into an issue. */
export class GuardFailure {
  constructor(
    readonly path: string,
    readonly message: string,
  ) {}
}

function fail(path: string, message: string): never {
  throw new GuardFailure(path, message);
}

const at = (path: string, key: string | number): string => (path ? `${path}.${key}` : String(key));

/** Checks a value; never throws. */
export function parse<T>(
  guard: Guard<T>,
  value: unknown,
): { success: true; data: T } | { success: false; issues: GuardIssue[] } {
  try {
    return { success: true, data: guard(value, '') };
  } catch (err) {
    if (err instanceof GuardFailure)
      return { success: false, issues: [{ path: err.path, message: err.message }] };
    throw err;
  }
}

function typed<T>(name: string, test: (value: unknown) => boolean): Guard<T> {
  return (value, path) => (test(value) ? (value as T) : fail(path, `expected ${name}`));
}

/** Any value, kept as it is (zod's `z.unknown()`). */
export const unknown: Guard<unknown> = (value) => value;
export const string = typed<string>('a string', (v) => typeof v === 'string');
export const boolean = typed<boolean>('a boolean', (v) => typeof v === 'boolean');
/** A finite number (zod 4's `z.number()`). */
export const number = typed<number>('a number', Number.isFinite);
/** A safe integer (zod 4's `z.int()`). */
export const int = typed<number>('an integer', Number.isSafeInteger);
/** A safe integer ≥ `min` (`z.int().nonnegative()` is `intAtLeast(0)`, `.positive()` is `intAtLeast(1)`). */
export const intAtLeast = (min: number): Guard<number> =>
  typed<number>(`an integer ≥ ${min}`, (v) => Number.isSafeInteger(v) && (v as number) >= min);

/** One of the given strings (`z.enum`, or `z.literal` with one value). */
export function oneOf<const T extends readonly string[]>(values: T): Guard<T[number]> {
  return typed<T[number]>(`one of ${values.join(', ')}`, (v) => values.includes(v as string));
}

/** The key may be missing; when it is there (even as `undefined`) it is kept. */
export function optional<T>(guard: Guard<T>): OptionalGuard<T> {
  const g = ((value: unknown, path: string) =>
    value === undefined ? undefined : guard(value, path)) as Guard<T | undefined>;
  return Object.assign(g, { optional: true as const });
}

export function array<T>(item: Guard<T>): Guard<T[]> {
  return (value, path) =>
    Array.isArray(value) ? value.map((v, i) => item(v, at(path, i))) : fail(path, 'expected an array');
}

type Shape = Record<string, Guard<unknown>>;
type Flatten<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
/** The output of an object guard: optional keys are optional, like `z.infer` of a zod object. */
export type ObjectOutput<S extends Shape> = Flatten<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: GuardOutput<S[K]> } & {
    [K in OptionalKeys<S>]?: GuardOutput<S[K]>;
  }
>;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A JSON object with these keys; other keys are dropped (`z.object`; the server's frames have
 * no `z.strictObject`). A required key must be present, even for `unknown`.
 */
export function object<S extends Shape>(shape: S): Guard<ObjectOutput<S>> {
  return (value, path) => {
    if (!isObject(value)) fail(path, 'expected an object');
    const out: Record<string, unknown> = {};
    for (const [key, guard] of Object.entries(shape)) {
      if (!(key in value)) {
        if ((guard as Partial<OptionalGuard<unknown>>).optional) continue;
        fail(at(path, key), 'required');
      }
      out[key] = guard(value[key], at(path, key));
    }
    return out as ObjectOutput<S>;
  };
}

/** `object(shape)` plus more keys (zod's `.extend`). */
export function extend<S extends Shape, E extends Shape>(shape: S, more: E): Omit<S, keyof E> & E {
  return { ...shape, ...more };
}

/** One of several object guards, chosen by the string at `key` (`z.discriminatedUnion`). */
export function union<K extends string, const O extends Record<string, Guard<unknown>>>(
  key: K,
  options: O,
): Guard<GuardOutput<O[keyof O]>> {
  return (value, path) => {
    if (!isObject(value)) fail(path, 'expected an object');
    const tag = value[key];
    if (typeof tag !== 'string' || !Object.hasOwn(options, tag)) {
      fail(at(path, key), `expected one of ${Object.keys(options).join(', ')}`);
    }
    return (options[tag] as Guard<GuardOutput<O[keyof O]>>)(value, path);
  };
}
