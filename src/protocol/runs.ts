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

/** Flyte's phase names, in lifecycle order. */
export const RUN_STATUSES = [
  'QUEUED',
  'INITIALIZING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'ABORTED',
  'TIMED_OUT',
] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

/** The phases that end a run: nothing follows them. */
export const TERMINAL_RUN_STATUSES = ['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'] as const;

export type TerminalRunStatus = (typeof TERMINAL_RUN_STATUSES)[number];

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_RUN_STATUSES);

/** True when `status` ends a run (SUCCEEDED, FAILED, ABORTED, TIMED_OUT). */
export function isTerminalRunStatus(status: string): status is TerminalRunStatus {
  return TERMINAL.has(status);
}

const RUN_CHANNEL_PREFIX = 'run:';

/** The channel a run's updates are published on: `run:<id>`. */
export function runChannel(runId: string): string {
  return `${RUN_CHANNEL_PREFIX}${runId}`;
}

/** The run behind a `run:<id>` channel, or undefined for any other channel. */
export function runIdOfChannel(channel: string): string | undefined {
  return channel.startsWith(RUN_CHANNEL_PREFIX) && channel.length > RUN_CHANNEL_PREFIX.length
    ? channel.slice(RUN_CHANNEL_PREFIX.length)
    : undefined;
}

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

export type RunUpdateData = z.infer<typeof runUpdateSchema>;
