import { create } from '@bufbuild/protobuf';
import {
  type Literal,
  type LiteralType,
  type NamedLiteral,
  NamedLiteralSchema,
  type Outputs,
  type TaskDetails,
} from './idl.js';
import { acceptsNone, typeName } from './literal-types.js';
import { fromLiteral, LiteralMismatch, toLiteral } from './literals.js';
import type { Misfit } from './struct-schema.js';

/** One input or output of a Flyte task. */
export interface FlyteVariable {
  name: string;
  type: LiteralType;
  /** The task's default for an input, as a literal (from the task spec). */
  default?: Literal;
}

/** What wirehub needs to know about a Flyte task: its identity, typed interface and retries. */
export interface FlyteTaskInterface {
  org: string;
  project: string;
  domain: string;
  name: string;
  version: string;
  inputs: FlyteVariable[];
  outputs: FlyteVariable[];
  /** Retries the task template asks Flyte for (so `max_attempts` is retries + 1). */
  retries: number;
}

/** Reads the typed interface out of `TaskService.GetTaskDetails`'s answer. */
export function taskInterface(details: TaskDetails): FlyteTaskInterface {
  const id = details.taskId;
  const template = details.spec?.taskTemplate;
  const defaults = new Map<string, Literal>();
  for (const p of details.spec?.defaultInputs ?? []) {
    const behavior = p.parameter?.behavior;
    if (behavior?.case === 'default') defaults.set(p.name, behavior.value);
  }
  const vars = (entries: { key: string; value?: { type?: LiteralType } }[] | undefined): FlyteVariable[] =>
    (entries ?? []).flatMap((e) => {
      const type = e.value?.type;
      if (!type) return [];
      const v: FlyteVariable = { name: e.key, type };
      const d = defaults.get(e.key);
      if (d) v.default = d;
      return [v];
    });
  return {
    org: id?.org ?? '',
    project: id?.project ?? '',
    domain: id?.domain ?? '',
    name: id?.name ?? '',
    version: id?.version ?? '',
    inputs: vars(template?.interface?.inputs?.variables),
    outputs: vars(template?.interface?.outputs?.variables).map(({ name, type }) => ({ name, type })),
    retries: template?.metadata?.retries?.retries ?? 0,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON inputs as the task's input literals: each input converted by its declared type, inputs
 * left out take the task's default (or None for an Optional). Throws `LiteralMismatch` with
 * every input that does not fit (named, with the type it expects): an unknown input, a missing
 * required one, a value of the wrong type.
 */
export function inputsToLiterals(task: FlyteTaskInterface, inputs: unknown): NamedLiteral[] {
  if (!isObject(inputs)) {
    throw new LiteralMismatch([{ path: [], message: 'inputs must be a JSON object of named inputs' }]);
  }
  const misfits: Misfit[] = [];
  const literals: NamedLiteral[] = [];
  const known = new Set(task.inputs.map((v) => v.name));
  for (const name of Object.keys(inputs)) {
    if (!known.has(name)) {
      const takes = task.inputs.map((v) => v.name).join(', ') || 'no inputs';
      misfits.push({ path: [name], message: `${task.name} has no input ${name} (it takes ${takes})` });
    }
  }
  for (const v of task.inputs) {
    let value: Literal | undefined;
    if (Object.hasOwn(inputs, v.name)) {
      try {
        value = toLiteral(inputs[v.name], v.type, [v.name]);
      } catch (err) {
        if (!(err instanceof LiteralMismatch)) throw err;
        misfits.push(...err.misfits);
        continue;
      }
    } else if (v.default) value = v.default;
    else if (acceptsNone(v.type)) value = toLiteral(null, v.type, [v.name]);
    else {
      misfits.push({ path: [v.name], message: `required input ${v.name} (${typeName(v.type)}) is missing` });
      continue;
    }
    literals.push(create(NamedLiteralSchema, { name: v.name, value }));
  }
  if (misfits.length > 0) throw new LiteralMismatch(misfits);
  return literals;
}

/** What does not fit in `inputs` (for the inputs schema of a Flyte task); empty when they fit. */
export function checkInputs(task: FlyteTaskInterface, inputs: unknown): Misfit[] {
  try {
    inputsToLiterals(task, inputs);
    return [];
  } catch (err) {
    if (err instanceof LiteralMismatch) return err.misfits;
    throw err;
  }
}

/**
 * A finished action's output literals as one JSON object by output name, each checked against
 * its declared type. Throws `LiteralMismatch` when an output is missing or does not fit.
 */
export function outputsToJson(
  task: FlyteTaskInterface,
  outputs: Outputs | undefined,
): Record<string, unknown> {
  const byName = new Map((outputs?.literals ?? []).map((l) => [l.name, l.value]));
  const out: Record<string, unknown> = {};
  const misfits: Misfit[] = [];
  for (const v of task.outputs) {
    const literal = byName.get(v.name);
    if (!literal) {
      misfits.push({ path: [v.name], message: `output ${v.name} (${typeName(v.type)}) is missing` });
      continue;
    }
    const value = fromLiteral(literal);
    // Data kept in the cluster's storage (files, data frames) comes back as its URI: nothing to check.
    const stored = literal.value.case === 'offloadedMetadata';
    if (!stored) {
      try {
        toLiteral(value, v.type, [v.name]);
      } catch (err) {
        if (!(err instanceof LiteralMismatch)) throw err;
        const blobLike = typeof value === 'object' && value !== null && 'uri' in value;
        if (!blobLike) misfits.push(...err.misfits);
      }
    }
    out[v.name] = value;
  }
  // Outputs the interface does not declare (an older version's) are passed on as they are.
  for (const [name, literal] of byName) if (!(name in out)) out[name] = fromLiteral(literal);
  if (misfits.length > 0) throw new LiteralMismatch(misfits);
  return out;
}
