/**
 * The Flyte 2 executor: runs tasks of a Flyte (or Union) cluster from wirehub's task runner.
 * Loaded lazily (a dynamic `import()`) only when Flyte is configured, so `import('wirehub')`
 * does not pay for the protocol definitions.
 *
 * @example
 * ```ts
 * const { executor, tasks } = await import('wirehub/dist/tasks/executors/flyte/index.js')
 *   .then((m) => m.createFlyteBackend({ endpoint: 'http://localhost:8090', org: 'testorg' }));
 * ```
 */
import type { Logger } from '../../../util/logger.js';
import { connectFlyte } from './client.js';
import { type FlyteOptions, resolveFlyteConfig } from './config.js';
import { FlyteExecutor } from './flyte-executor.js';
import { FlyteTasks } from './flyte-tasks.js';

export { connectFlyte, type FlyteClient } from './client.js';
export { type FlyteConfig, FlyteConfigError, type FlyteOptions, resolveFlyteConfig } from './config.js';
export { FlyteExecutor, flyteRunName } from './flyte-executor.js';
export { FlyteTasks } from './flyte-tasks.js';

/** A Flyte executor and the catalog of the cluster's tasks, sharing one client. */
export interface FlyteBackend {
  executor: FlyteExecutor;
  tasks: FlyteTasks;
}

/** Checks the options (throws `FlyteConfigError`) and connects lazily: no call is made until a run needs one. */
export function createFlyteBackend(options: FlyteOptions, log?: Logger): FlyteBackend {
  const client = connectFlyte(resolveFlyteConfig(options));
  const tasks = new FlyteTasks(client);
  return { executor: new FlyteExecutor(client, tasks, log ? { log } : {}), tasks };
}
