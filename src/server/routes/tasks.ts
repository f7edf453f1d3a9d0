import type { FastifyInstance } from 'fastify';
import { summarizeTask, type TaskRegistry } from '../../tasks/registry.js';

/** `GET /api/tasks`: every registered task with its inputs and outputs as JSON Schema. */
export function installTaskRoutes(app: FastifyInstance, registry: TaskRegistry): void {
  app.get('/api/tasks', async () => ({ tasks: registry.list().map(summarizeTask) }));
}
