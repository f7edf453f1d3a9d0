// The phase names and the run channel are part of the wire protocol (clients share them).
import type { RunError, RunStatus } from '../../protocol/runs.js';

// The update and error types are inferred from the protocol's schemas: one shape for the
// server, the store and the clients.
export type {
  RunError,
  RunUpdate,
  TerminalRunStatus as TerminalStatus,
} from '../../protocol/runs.js';
export { RUN_STATUSES, type RunStatus, runChannel, runIdOfChannel } from '../../protocol/runs.js';

/**
 * Where a run runs when another engine runs it (a Flyte run): kept with the run, so a restart
 * re-attaches to it and its page links to the engine's console.
 */
export interface ExternalRun {
  /** The executor that runs it, e.g. `flyte`. */
  executor: string;
  /** The engine's id of the run, e.g. `{org, project, domain, name}` of a Flyte run. */
  id: Record<string, string>;
  /** The run's page in the engine's console. */
  url?: string;
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
  /** The engine's run, when another engine runs it (Flyte). */
  external?: ExternalRun;
}
