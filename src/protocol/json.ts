import { WirehubError } from './errors.js';
import { defaults } from './limits.js';

/**
 * JSON where it enters wirehub (WebSocket frames, HTTP bodies, task inputs), bounded.
 *
 * Why: `JSON.parse` in V8 does not recurse, so a document nested 100 000 deep parses fine;
 * but `JSON.stringify`, structured clone and zod do recurse, and a value parsed here is
 * serialised again later (fan-out, history, run records). A value nested ~4 000 deep
 * overflows the stack there, far from any `try`. So depth is checked once, at the door.
 * Size is bounded by the transport (the WebSocket max payload, the HTTP body limit).
 *
 * Prototype keys: a `__proto__` key, or a `constructor` key holding a `prototype`, is refused
 * (the rule of Fastify's secure-json-parse, so WebSocket frames and HTTP bodies agree):
 * merging such data into an object elsewhere would change its prototype.
 */

/** How a JSON document is parsed: its depth bound, and what to call it in error messages. */
export interface JsonParseOptions {
  /** Most levels of objects and arrays (the outermost counts as 1). Default `defaults.maxJsonDepth`. */
  maxDepth?: number;
  /** What the text is, for messages: `frame`, `body`, `message`… Default `document`. */
  what?: string;
}

// Escaped spellings too: `"\u005f_proto__"` is the key `__proto__` once parsed.
const SUSPECT_PROTO =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/;
const SUSPECT_CONSTRUCTOR =
  /"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

/**
 * Parses one JSON document within a depth bound. Throws a `WirehubError`: `invalid_json` when
 * it is not JSON, `json_too_deep` (with `details.maxDepth`) when it nests deeper than
 * `maxDepth`, `invalid_message` when it has a prototype key.
 *
 * Cost: `JSON.parse` plus, for most documents, two `indexOf` scans (a document with at most
 * `maxDepth` brackets cannot be deeper); only documents with more brackets are walked, once,
 * without recursion. `bench/json-depth.ts` measures it against plain `JSON.parse`.
 *
 * @example
 * ```ts
 * import { parseJson } from 'wirehub/protocol';
 * parseJson('{"a":[1,2]}'); // { a: [1, 2] }
 * parseJson('[[[[1]]]]', { maxDepth: 3 }); // throws WirehubError json_too_deep
 * ```
 */
export function parseJson(text: string, options: JsonParseOptions = {}): unknown {
  const parsed = tryParseJson(text, options);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

/** What `tryParseJson` found: the value, or the error and (when the text was JSON) the refused value. */
export type ParsedJson = { ok: true; value: unknown } | { ok: false; error: WirehubError; refused?: unknown };

/**
 * `parseJson` without throwing. A refused document that was JSON (too deep, a prototype key)
 * comes back as `refused`, so a caller can still answer it properly, e.g. read the `id` of an
 * `/rt` command to answer that command: the value is safe to read, only not to pass on.
 */
export function tryParseJson(text: string, options: JsonParseOptions = {}): ParsedJson {
  const what = options.what ?? 'document';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: new WirehubError('invalid_json', `the ${what} is not valid JSON`) };
  }
  if (value === null || typeof value !== 'object') return { ok: true, value };
  const maxDepth = options.maxDepth ?? defaults.maxJsonDepth;
  const mayBeDeep = bracketsExceed(text, maxDepth);
  const suspect = mayHavePrototypeKey(text);
  if (mayBeDeep || suspect) {
    const problem = inspect(value, mayBeDeep ? maxDepth : Number.POSITIVE_INFINITY, suspect);
    if (problem) return { ok: false, error: problemError(problem, what, maxDepth), refused: value };
  }
  return { ok: true, value };
}

/**
 * Checks a value that code (not a client) hands over, e.g. task inputs given to
 * `RunService.run`: it must serialise as JSON and nest at most `maxDepth` levels. Throws
 * `json_too_deep`, or `invalid_message` for what JSON cannot hold (a cycle, a BigInt).
 */
export function assertJsonValue(
  value: unknown,
  what: string,
  maxDepth: number = defaults.maxJsonDepth,
): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw jsonEncodeError(err, what);
  }
  if (text === undefined || !bracketsExceed(text, maxDepth)) return;
  // The serialised form is what travels (toJSON applied, shared parts repeated): walk that.
  const problem = inspect(JSON.parse(text) as object, maxDepth, false);
  if (problem) throw problemError(problem, what, maxDepth);
}

/**
 * The catalog error for a `JSON.stringify` that threw: `json_too_deep` for a stack overflow
 * (too deep to serialise), `invalid_message` for a cycle, a BigInt or a throwing `toJSON`.
 */
export function jsonEncodeError(err: unknown, what: string): WirehubError {
  if (err instanceof RangeError) {
    return new WirehubError('json_too_deep', `the ${what} nests too deep to be serialised as JSON`);
  }
  const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new WirehubError('invalid_message', `the ${what} cannot be serialised as JSON: ${reason}`);
}

/**
 * Highest depth bound a server may be configured with: JSON.stringify, structured clone and
 * zod overflow the stack somewhere above 4 000 levels (less when called deep in a stack).
 */
export const MAX_JSON_DEPTH_CEILING = 1000;

type Problem = { kind: 'deep' } | { kind: 'key'; key: '__proto__' | 'constructor' };

function problemError(problem: Problem, what: string, maxDepth: number): WirehubError {
  if (problem.kind === 'deep') {
    return new WirehubError(
      'json_too_deep',
      `the ${what} nests objects and arrays deeper than ${maxDepth} levels`,
      { maxDepth },
    );
  }
  const key = problem.key === '__proto__' ? '"__proto__" key' : '"constructor" key holding a "prototype"';
  return new WirehubError('invalid_message', `the ${what} has a ${key}: prototype keys are refused`, {
    key: problem.key,
  });
}

const OPENERS = ['[', '{'] as const;

/**
 * True when the text has more than `max` opening brackets (strings included): only then can
 * it nest deeper than `max`. Two native `indexOf` scans, stopping at `max + 1`.
 */
function bracketsExceed(text: string, max: number): boolean {
  // Each level takes an opening and a closing bracket: a short document cannot be deep.
  if (text.length < 2 * (max + 1)) return false;
  let count = 0;
  for (const opener of OPENERS) {
    for (let i = text.indexOf(opener); i !== -1; i = text.indexOf(opener, i + 1)) {
      count += 1;
      if (count > max) return true;
    }
  }
  return false;
}

function mayHavePrototypeKey(text: string): boolean {
  // Native substring scans first (a regex alternation would visit every position): the keys
  // are spelled out, or hidden behind `\u` escapes.
  if (!text.includes('__proto__') && !text.includes('constructor') && !text.includes('\\u')) return false;
  return SUSPECT_PROTO.test(text) || SUSPECT_CONSTRUCTOR.test(text);
}

/**
 * Walks a value depth-first with an explicit stack (no recursion, so no stack to overflow),
 * stopping at the first container deeper than `maxDepth` or, with `keys`, at the first
 * prototype key. Values that came from `JSON.parse` are trees: each node is visited once.
 */
function inspect(root: object, maxDepth: number, keys: boolean): Problem | undefined {
  const nodes: object[] = [root];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop() as object;
    const depth = depths.pop() as number;
    if (depth > maxDepth) return { kind: 'deep' };
    if (Array.isArray(node)) {
      for (const item of node) {
        if (item !== null && typeof item === 'object') {
          nodes.push(item);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    const record = node as Record<string, unknown>;
    if (keys) {
      if (Object.hasOwn(record, '__proto__')) return { kind: 'key', key: '__proto__' };
      const ctor = Object.hasOwn(record, 'constructor') ? record.constructor : undefined;
      if (ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) {
        return { kind: 'key', key: 'constructor' };
      }
    }
    for (const key in record) {
      const item = record[key];
      if (item !== null && typeof item === 'object') {
        nodes.push(item);
        depths.push(depth + 1);
      }
    }
  }
  return undefined;
}
