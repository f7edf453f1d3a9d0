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

export type TerminalStatus = Extract<RunStatus, 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT'>;

/** Why a run failed: `USER` for the task's own errors, `SYSTEM` for everything around it. */
export interface RunError {
  kind: 'USER' | 'SYSTEM';
  message: string;
}

/**
 * One step of a run: every status change and every `report()`. Persisted, then published
 * on channel `run:<run_id>`, and sent as-is to `/task-runner` watchers.
 */
export interface RunUpdate {
  run_id: string;
  /** 1, 2, 3, … per run: lets a watcher that replays history skip what it already has. */
  seq: number;
  status: RunStatus;
  message: string;
  /** Percentage 0-100, when the task reported one. */
  progress?: number;
  /** ISO 8601 time of the update. */
  at: string;
  /** Only on a SUCCEEDED update. */
  outputs?: unknown;
  /** Only on FAILED, ABORTED and TIMED_OUT updates. */
  error?: RunError;
}

/** A run as stored and as `GET /api/runs/{id}` shows it. */
export interface RunRecord {
  run_id: string;
  project: string;
  domain: string;
  task: string;
  version: string;
  inputs: unknown;
  status: RunStatus;
  message: string;
  progress?: number;
  /** The attempt running now (or last), 1-based. */
  attempt: number;
  max_attempts: number;
  created_at: string;
  updated_at: string;
  started_at?: string;
  ended_at?: string;
  outputs?: unknown;
  error?: RunError;
  /** Sequence number of the last update. */
  seq: number;
  /** Who started the run (a token's `sub`, `api-key:<n>`); absent when nobody was signed in. */
  user?: string;
}

const RUN_CHANNEL_PREFIX = 'run:';

/** The channel a run's updates are published on. */
export function runChannel(runId: string): string {
  return `${RUN_CHANNEL_PREFIX}${runId}`;
}

/** The run behind a `run:<id>` channel, or undefined for any other channel. */
export function runIdOfChannel(channel: string): string | undefined {
  return channel.startsWith(RUN_CHANNEL_PREFIX) && channel.length > RUN_CHANNEL_PREFIX.length
    ? channel.slice(RUN_CHANNEL_PREFIX.length)
    : undefined;
}
