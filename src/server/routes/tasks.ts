import type { FastifyInstance } from 'fastify';
import { taskResource } from '../../hub/permissions.js';
import { summarizeTask, type TaskRegistry } from '../../tasks/registry.js';
import { principalOf } from '../security/http-guard.js';

/**
 * `GET /api/tasks`: the registered tasks the caller may run (its `tasks` grants), each with
 * its inputs and outputs as JSON Schema.
 */
export function installTaskRoutes(app: FastifyInstance, registry: TaskRegistry): void {
  app.get('/api/tasks', async (req) => {
    const permissions = principalOf(req).permissions;
    const tasks = registry.list().filter((t) => {
      const d = t.definition;
      return permissions.can('task', taskResource(d.project, d.domain, d.name));
    });
    return { tasks: tasks.map(summarizeTask) };
  });
}
