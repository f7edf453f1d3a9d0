import type { z } from 'zod';
import { strictInputs } from './strict-inputs.js';

/** Project, domain, name and version: 1-64 characters of `[A-Za-z0-9_.-]`. */
export const TASK_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The version that means "the highest registered version" in a lookup; no task may use it. */
export const LATEST = 'latest';

/** Most retries a task may ask for. */
export const MAX_RETRIES = 10;

/** Marks objects made by `defineTask`; `Symbol.for` so two copies of wirehub agree. */
export const TASK_BRAND: unique symbol = Symbol.for('wirehub.task') as never;

/** A structured log line from a task, forwarded to the server's logger with the run id. */
export interface TaskLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** What a running task gets besides its inputs. */
export interface TaskContext {
  readonly runId: string;
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number;
  /**
   * Aborted when the run is cancelled or times out. Tasks waiting on I/O should pass it on;
   * a task that ignores it is stopped anyway once a short grace period is over.
   */
  readonly signal: AbortSignal;
  /**
   * Sends a status update to everyone watching the run. `progress` is a percentage from 0
   * to 100. Calling it regularly from a CPU-bound loop also lets `signal` see a cancel.
   */
  report(message: string, progress?: number): void;
  readonly log: TaskLogger;
}

/** What you give `defineTask`. */
export interface TaskSpec<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  project: string;
  domain: string;
  name: string;
  version: string;
  description?: string;
  /**
   * Inputs schema: every run's inputs are checked against it before the run is queued.
   * Unknown keys are refused (`invalid_inputs` naming them) in every object that does not say
   * otherwise, where plain zod would drop them silently: a typo must not run with a default.
   * To accept extra keys, say so the zod way: `z.looseObject({…})` or `.loose()` keeps them,
   * `.catchall(schema)` checks them (see `strictInputs`).
   */
  inputs: I;
  /** Outputs schema: a result that does not match fails the run (a USER error). */
  outputs?: O;
  /** Per-attempt time limit; over it the run ends TIMED_OUT. */
  timeoutMs?: number;
  /** How many times a failed attempt is retried (with backoff). Default 0. */
  retries?: number;
  run(inputs: z.output<I>, ctx: TaskContext): z.input<O> | Promise<z.input<O>>;
}

/** A task definition as registered: the spec, checked and frozen. */
export type TaskDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> = Readonly<
  TaskSpec<I, O>
> & { readonly [TASK_BRAND]: true };

/** A task definition that breaks the rules (bad name, reserved version, bad limits). */
export class TaskDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskDefinitionError';
  }
}

/** `project/domain/name@version`, the key tasks are registered and shown under. */
export function taskKey(t: { project: string; domain: string; name: string; version: string }): string {
  return `${t.project}/${t.domain}/${t.name}@${t.version}`;
}

function isSchema(value: unknown): value is z.ZodType {
  return typeof (value as { safeParse?: unknown } | null)?.safeParse === 'function';
}

/**
 * Defines a task that wirehub can run from a WebSocket message, the REST API or the CLI.
 * Export it from a module and serve it with `wirehub serve --tasks <dir or glob>`: tasks
 * run on worker threads, which import the module themselves, so keep the module free of
 * side effects.
 *
 * @example
 * ```ts
 * import { defineTask } from 'wirehub';
 * import { z } from 'zod';
 *
 * export const greet = defineTask({
 *   project: 'acme', domain: 'production', name: 'greet', version: 'v1',
 *   inputs: z.object({ who: z.string().min(1).max(100) }),
 *   outputs: z.object({ greeting: z.string() }),
 *   async run({ who }, ctx) {
 *     ctx.report('thinking', 50);
 *     return { greeting: `Hello, ${who}!` };
 *   },
 * });
 * ```
 */
export function defineTask<I extends z.ZodType, O extends z.ZodType = z.ZodType<unknown>>(
  spec: TaskSpec<I, O>,
): TaskDefinition<I, O> {
  for (const field of ['project', 'domain', 'name', 'version'] as const) {
    const value: unknown = spec[field];
    if (typeof value !== 'string' || !TASK_NAME.test(value)) {
      throw new TaskDefinitionError(
        `task ${field} must be 1-64 characters of [A-Za-z0-9_.-], got ${String(value)}`,
      );
    }
  }
  const key = taskKey(spec);
  if (spec.version === LATEST) {
    throw new TaskDefinitionError(
      `${key}: "${LATEST}" is reserved for lookups; give a real version such as v1`,
    );
  }
  if (!isSchema(spec.inputs)) throw new TaskDefinitionError(`${key}: inputs must be a zod schema`);
  if (spec.outputs !== undefined && !isSchema(spec.outputs)) {
    throw new TaskDefinitionError(`${key}: outputs must be a zod schema`);
  }
  if (typeof spec.run !== 'function') throw new TaskDefinitionError(`${key}: run must be a function`);
  if (spec.timeoutMs !== undefined && !(Number.isInteger(spec.timeoutMs) && spec.timeoutMs > 0)) {
    throw new TaskDefinitionError(`${key}: timeoutMs must be a positive integer`);
  }
  if (
    spec.retries !== undefined &&
    !(Number.isInteger(spec.retries) && spec.retries >= 0 && spec.retries <= MAX_RETRIES)
  ) {
    throw new TaskDefinitionError(`${key}: retries must be an integer from 0 to ${MAX_RETRIES}`);
  }
  return Object.freeze({ ...spec, inputs: strictInputs(spec.inputs), [TASK_BRAND]: true as const });
}

/** True for objects made by `defineTask` (by any copy of wirehub). */
export function isTaskDefinition(value: unknown): value is TaskDefinition {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TASK_BRAND] === true
  );
}
