/**
 * Run phases and run channels, without schemas: the browser client imports these without
 * zod. `runs.ts` re-exports them next to the update schema.
 */

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
