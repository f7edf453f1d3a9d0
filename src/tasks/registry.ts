import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { toJsonSchema } from '../protocol/json-schema.js';
import { isTaskDefinition, LATEST, type TaskDefinition, taskKey } from './define-task.js';

/** Which task a run asks for; `version` may be `latest`. */
export interface TaskRef {
  project: string;
  domain: string;
  name: string;
  version: string;
}

/** A task and where it came from: worker threads import `module` and take `exportName`. */
export interface RegisteredTask {
  readonly key: string;
  readonly definition: TaskDefinition;
  /** `file:` URL of the module that exports the task. */
  readonly module: string;
  readonly exportName: string;
  /**
   * The executor that runs it when it is not one of this server's own tasks: `flyte` for a
   * task looked up on a Flyte cluster (its `module` is then the cluster's URL).
   */
  readonly executor?: string;
}

/** What `GET /api/tasks` and `wirehub tasks` show about a task. */
export interface TaskSummary {
  project: string;
  domain: string;
  name: string;
  version: string;
  ref: string;
  description?: string;
  timeout_ms?: number;
  retries: number;
  /** JSON Schema of the inputs (what a client may send). */
  inputs: unknown;
  outputs?: unknown;
}

/** Two modules define the same task, or a module cannot be loaded. Stops the server from starting. */
export class TaskRegistryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TaskRegistryError';
  }
}

const byVersion = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Where a task was defined, for error messages: a file path when it is a file. */
function describeSource(task: RegisteredTask): string {
  const file = task.module.startsWith('file:') ? fileURLToPath(task.module) : task.module;
  return `${file} (export ${task.exportName})`;
}

/**
 * The tasks a server can run, by project/domain/name/version. `latest` resolves to the
 * highest registered version, compared numerically (`v10` > `v9`).
 *
 * @example
 * ```ts
 * const registry = new TaskRegistry();
 * await registry.loadModule('./tasks/greet.js');
 * registry.resolve({ project: 'acme', domain: 'production', name: 'greet', version: 'latest' });
 * ```
 */
export class TaskRegistry {
  private readonly tasks = new Map<string, RegisteredTask>();

  /** Registers one definition exported from `module` as `exportName`. */
  add(definition: TaskDefinition, module: string, exportName: string): RegisteredTask {
    const key = taskKey(definition);
    const task: RegisteredTask = { key, definition, module, exportName };
    const existing = this.tasks.get(key);
    if (existing) {
      if (existing.module === module && existing.exportName === exportName) return existing;
      throw new TaskRegistryError(
        `task ${key} is defined twice: in ${describeSource(existing)} and in ${describeSource(task)}`,
      );
    }
    this.tasks.set(key, task);
    return task;
  }

  /** Imports a module and registers every task it exports. Returns them. */
  async loadModule(fileOrUrl: string | URL): Promise<RegisteredTask[]> {
    const url =
      fileOrUrl instanceof URL || /^[a-z]+:/.test(fileOrUrl)
        ? String(fileOrUrl)
        : pathToFileURL(fileOrUrl).href;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url)) as Record<string, unknown>;
    } catch (err) {
      const file = url.startsWith('file:') ? fileURLToPath(url) : url;
      throw new TaskRegistryError(
        `cannot load task module ${file}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const added: RegisteredTask[] = [];
    for (const [exportName, value] of Object.entries(mod)) {
      if (isTaskDefinition(value)) added.push(this.add(value, url, exportName));
    }
    return added;
  }

  /** The task a ref names, `latest` meaning the highest version; undefined when none. */
  resolve(ref: TaskRef): RegisteredTask | undefined {
    if (ref.version !== LATEST) return this.tasks.get(taskKey(ref));
    let best: RegisteredTask | undefined;
    for (const task of this.tasks.values()) {
      const d = task.definition;
      if (d.project !== ref.project || d.domain !== ref.domain || d.name !== ref.name) continue;
      if (!best || byVersion.compare(d.version, best.definition.version) > 0) best = task;
    }
    return best;
  }

  /** Every task, sorted by key. */
  list(): RegisteredTask[] {
    return [...this.tasks.values()].sort((a, b) => byVersion.compare(a.key, b.key));
  }

  get size(): number {
    return this.tasks.size;
  }
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  try {
    return toJsonSchema(schema, { io });
  } catch {
    return {};
  }
}

/** The public description of a task, with its schemas as JSON Schema. */
export function summarizeTask(task: RegisteredTask): TaskSummary {
  const d = task.definition;
  const summary: TaskSummary = {
    project: d.project,
    domain: d.domain,
    name: d.name,
    version: d.version,
    ref: task.key,
    retries: d.retries ?? 0,
    inputs: jsonSchema(d.inputs, 'input'),
  };
  if (d.description !== undefined) summary.description = d.description;
  if (d.timeoutMs !== undefined) summary.timeout_ms = d.timeoutMs;
  if (d.outputs !== undefined) summary.outputs = jsonSchema(d.outputs, 'output');
  return summary;
}
