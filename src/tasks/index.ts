/**
 * `wirehub/tasks`: what a task module needs, and nothing heavier (no server, no SQLite, no
 * worker pool), so worker threads load task modules quickly.
 *
 * @example
 * ```ts
 * import { defineTask } from 'wirehub/tasks';
 * import { z } from 'zod';
 * export const hello = defineTask({
 *   project: 'acme', domain: 'development', name: 'hello', version: 'v1',
 *   inputs: z.object({ who: z.string() }),
 *   run: ({ who }) => ({ greeting: `hello ${who}` }),
 * });
 * ```
 */
export {
  defineTask,
  isTaskDefinition,
  LATEST,
  MAX_RETRIES,
  TASK_NAME,
  type TaskContext,
  type TaskDefinition,
  TaskDefinitionError,
  type TaskLogger,
  type TaskSpec,
  taskKey,
} from './define-task.js';
