import type { ExternalRun, RunError, RunRecord, RunStatus } from './types.js';

/**
 * A run as both run stores keep it (SQLite columns, Redis hash fields): times in ms since the
 * epoch, JSON values as text, and an optional field absent (`null` or `undefined`) when unset.
 */
export interface StoredRun {
  id: string;
  project: string;
  domain: string;
  name: string;
  version: string;
  inputs: string;
  status: RunStatus;
  message: string;
  attempt: number;
  max_attempts: number;
  created_at: number;
  updated_at: number;
  seq: number;
  progress?: number | null | undefined;
  started_at?: number | null | undefined;
  ended_at?: number | null | undefined;
  outputs?: string | null | undefined;
  error?: string | null | undefined;
  owner?: string | null | undefined;
  external?: string | null | undefined;
}

/** Milliseconds since the epoch as an ISO timestamp. */
export const isoTime = (ms: number): string => new Date(ms).toISOString();

/**
 * The one mapping from a stored run to the `RunRecord` the API shows, for every run store.
 *
 * @example
 * ```ts
 * const record = runRecordOf(db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as StoredRun);
 * ```
 */
export function runRecordOf(run: StoredRun): RunRecord {
  const record: RunRecord = {
    run_id: run.id,
    project: run.project,
    domain: run.domain,
    task: run.name,
    version: run.version,
    inputs: JSON.parse(run.inputs) as unknown,
    status: run.status,
    message: run.message,
    attempt: run.attempt,
    max_attempts: run.max_attempts,
    created_at: isoTime(run.created_at),
    updated_at: isoTime(run.updated_at),
    seq: run.seq,
  };
  if (run.progress != null) record.progress = run.progress;
  if (run.started_at != null) record.started_at = isoTime(run.started_at);
  if (run.ended_at != null) record.ended_at = isoTime(run.ended_at);
  if (run.outputs != null) record.outputs = JSON.parse(run.outputs) as unknown;
  if (run.error != null) record.error = JSON.parse(run.error) as RunError;
  if (run.owner != null) record.user = run.owner;
  if (run.external != null) record.external = JSON.parse(run.external) as ExternalRun;
  return record;
}
