import { z } from 'zod';
import { runPush } from '../protocol/rt.js';
import { RUN_STATUSES } from '../protocol/run-status.js';
import { runErrorSchema } from '../protocol/runs.js';

/**
 * One update of a run: a `run` push, with the status narrowed to the run phases. Exported by
 * the Node entry (`wirehub/client`) as before; the client itself checks with the zod-free
 * `runEventGuard` (same shape, tested against this), so the browser bundle carries no zod.
 *
 * @example
 * ```ts
 * import { runEventSchema } from 'wirehub/client';
 * const event = runEventSchema.parse({ run: 'r-1', status: 'RUNNING', message: 'working' });
 * ```
 */
export const runEventSchema = runPush.omit({ op: true }).extend({
  status: z.enum(RUN_STATUSES),
  error: runErrorSchema.optional(),
});
