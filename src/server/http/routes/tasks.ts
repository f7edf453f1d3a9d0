import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { taskResource } from '../../../hub/permissions.js';
import { summarizeTask, type TaskRegistry } from '../../../tasks/registry.js';
import { principalOf } from '../../security/http-guard.js';
import { taskSummaryDoc } from '../openapi/response-schemas.js';
import { BEARER, documented, errorResponses, GUARDED_ERRORS, jsonResponse } from '../openapi/route-docs.js';

const doc = documented({
  summary: 'List the tasks the caller may run',
  description:
    'The registered tasks the caller holds a `task` grant for, each with its inputs and outputs as JSON Schema.',
  tags: ['tasks'],
  security: BEARER,
  response: {
    200: jsonResponse('The tasks.', z.object({ tasks: z.array(taskSummaryDoc) })),
    ...errorResponses(...GUARDED_ERRORS),
  },
});

/**
 * `GET /api/tasks`: the registered tasks the caller may run (its `tasks` grants), each with
 * its inputs and outputs as JSON Schema.
 */
export function installTaskRoutes(app: FastifyInstance, registry: TaskRegistry): void {
  app.get('/api/tasks', doc, async (req) => {
    const permissions = principalOf(req).permissions;
    const tasks = registry.list().filter((t) => {
      const d = t.definition;
      return permissions.can('task', taskResource(d.project, d.domain, d.name));
    });
    return { tasks: tasks.map(summarizeTask) };
  });
}
