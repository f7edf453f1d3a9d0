import { Code } from '@connectrpc/connect';
import { z } from 'zod';
import { WirehubError } from '../../../protocol/index.js';
import { LATEST, TASK_BRAND, type TaskDefinition, taskKey } from '../../define-task.js';
import type { RegisteredTask, TaskRef } from '../../registry.js';
import type { RemoteTaskCatalog } from '../../runs/run-service.js';
import { connectCode, type FlyteClient, flyteError } from './client.js';
import { checkInputs, type FlyteTaskInterface, taskInterface } from './task-interface.js';

/** Flyte task versions looked up and kept (versions never change once deployed). */
const MAX_CACHED = 1000;

/**
 * A Flyte task's inputs schema: a JSON object whose inputs fit the task's typed interface, so
 * `invalid_inputs` names each input that does not fit and the type it expects, before any run
 * is created. The JSON itself is what the run stores; the executor turns it into literals.
 */
function inputsSchema(iface: FlyteTaskInterface): z.ZodType {
  return z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    for (const misfit of checkInputs(iface, value)) {
      const where = misfit.path.length > 0 ? `input ${misfit.path.join('.')}: ` : '';
      ctx.addIssue({ code: 'custom', path: misfit.path, message: `${where}${misfit.message}` });
    }
  });
}

/**
 * The tasks of a Flyte cluster, looked up with `TaskService.GetTaskDetails` (and
 * `ListVersions` for `latest`): each becomes a `RegisteredTask` whose inputs schema is the
 * task's typed interface and whose `executor` is `flyte`. Found versions are cached (a
 * deployed version never changes); unknown ones are not (they may be deployed later).
 *
 * @example
 * ```ts
 * const tasks = new FlyteTasks(connectFlyte(config));
 * const task = await tasks.resolve({ project: 'flytesnacks', domain: 'development', name: 'hello.main', version: 'v1' });
 * ```
 */
export class FlyteTasks implements RemoteTaskCatalog {
  private readonly cache = new Map<string, RegisteredTask>();
  private readonly interfaces = new WeakMap<RegisteredTask, FlyteTaskInterface>();

  constructor(private readonly client: FlyteClient) {}

  async resolve(ref: TaskRef): Promise<RegisteredTask | undefined> {
    const version = ref.version === LATEST ? await this.latestVersion(ref) : ref.version;
    if (version === undefined) return undefined;
    const exact = { ...ref, version };
    const key = taskKey(exact);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const { org } = this.client.config;
    let details: Awaited<ReturnType<FlyteClient['tasks']['getTaskDetails']>>['details'];
    try {
      ({ details } = await this.client.tasks.getTaskDetails(
        { taskId: { org, project: ref.project, domain: ref.domain, name: ref.name, version } },
        { timeoutMs: this.client.config.callTimeoutMs },
      ));
    } catch (err) {
      const code = connectCode(err);
      if (code === Code.NotFound || code === Code.InvalidArgument) return undefined;
      throw flyteError(err, 'TaskService.GetTaskDetails');
    }
    if (!details) return undefined;
    const task = this.register(exact, taskInterface(details), details.metadata?.shortDescription);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, task);
    return task;
  }

  /** The typed interface of a task this catalog made; undefined for any other task. */
  interfaceOf(task: RegisteredTask): FlyteTaskInterface | undefined {
    return this.interfaces.get(task);
  }

  /** The interface of the task a stored run names (after a restart), looked up again when needed. */
  async interfaceFor(ref: TaskRef): Promise<FlyteTaskInterface | undefined> {
    const task = await this.resolve(ref);
    return task ? this.interfaces.get(task) : undefined;
  }

  private async latestVersion(ref: TaskRef): Promise<string | undefined> {
    const { org } = this.client.config;
    try {
      const res = await this.client.tasks.listVersions(
        {
          taskName: { org, project: ref.project, domain: ref.domain, name: ref.name },
          request: { limit: 1, sortBy: { key: 'created_at', direction: 0 } },
        },
        { timeoutMs: this.client.config.callTimeoutMs },
      );
      return res.versions[0]?.version || undefined;
    } catch (err) {
      const code = connectCode(err);
      if (code === Code.NotFound || code === Code.InvalidArgument) return undefined;
      throw flyteError(err, 'TaskService.ListVersions');
    }
  }

  private register(ref: TaskRef, iface: FlyteTaskInterface, description: string | undefined): RegisteredTask {
    const definition = Object.freeze({
      project: ref.project,
      domain: ref.domain,
      name: ref.name,
      version: ref.version,
      ...(description ? { description } : {}),
      inputs: inputsSchema(iface),
      retries: iface.retries,
      run() {
        // Never called: the Flyte executor starts the task on the cluster.
        throw new WirehubError('internal', `${taskKey(ref)} runs on Flyte, not in this process`);
      },
      [TASK_BRAND]: true as const,
    }) as TaskDefinition;
    const task: RegisteredTask = {
      key: taskKey(ref),
      definition,
      module: this.client.config.baseUrl,
      exportName: ref.name,
      executor: 'flyte',
    };
    this.interfaces.set(task, iface);
    return task;
  }
}
