/**
 * Task runs as clients see them: the phase names (Flyte's), which of them end a run, and the
 * shape of one update as stored and published on channel `run:<id>`. No I/O: the server's
 * task runner and the client SDK share these.
 *
 * @example
 * ```ts
 * import { isTerminalRunStatus, runUpdateSchema } from 'wirehub/protocol';
 * const update = runUpdateSchema.parse(publication.data);
 * if (isTerminalRunStatus(update.status)) console.log('ended', update.status);
 * ```
 */
import { z } from 'zod';
import { RUN_STATUSES } from './run-status.js';

export {
  isTerminalRunStatus,
  RUN_STATUSES,
  type RunStatus,
  runChannel,
  runIdOfChannel,
  TERMINAL_RUN_STATUSES,
  type TerminalRunStatus,
} from './run-status.js';

/** Why a run failed: `USER` for the task's own errors, `SYSTEM` for everything around it. */
export const runErrorSchema = z.object({
  kind: z.enum(['USER', 'SYSTEM']),
  message: z.string(),
});

/**
 * One step of a run, as published on channel `run:<id>` (and sent as-is to `/task-runner`
 * clients): `seq` counts 1, 2, 3… per run with no gap.
 */
export const runUpdateSchema = z.object({
  run_id: z.string(),
  seq: z.int().positive(),
  status: z.enum(RUN_STATUSES),
  message: z.string(),
  progress: z.number().optional(),
  at: z.string(),
  outputs: z.unknown().optional(),
  error: runErrorSchema.optional(),
});

/** Why a run failed (see `runErrorSchema`). */
export type RunError = z.infer<typeof runErrorSchema>;

/**
 * One step of a run: every status change and every `report()` (see `runUpdateSchema`).
 * `progress` is a percentage 0-100 when the task reported one, `at` the ISO 8601 time, `outputs`
 * only on a SUCCEEDED update, `error` only on FAILED, ABORTED and TIMED_OUT ones.
 */
export type RunUpdate = z.infer<typeof runUpdateSchema>;
