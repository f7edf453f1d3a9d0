import type { ExternalRun, RunError, RunRecord, RunStatus } from '../types.js';

/** How the Redis run store reads its hashes and replies. */

/** A flat `[field, value, …]` reply as an object. */
export function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

/** A key prefix as a literal SCAN pattern (`*`, `?`, `[`, `]` and `\\` escaped). */
export const globLiteral = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

const iso = (ms: string): string => new Date(Number(ms)).toISOString();

/** A run's record from its hash, or undefined when it has none (expired or unknown). */
export function toRecord(runId: string, h: Record<string, string>): RunRecord | undefined {
  if (h.status === undefined) return undefined;
  const record: RunRecord = {
    run_id: runId,
    project: h.project ?? '',
    domain: h.domain ?? '',
    task: h.name ?? '',
    version: h.version ?? '',
    inputs: JSON.parse(h.inputs ?? 'null') as unknown,
    status: h.status as RunStatus,
    message: h.message ?? '',
    attempt: Number(h.attempt),
    max_attempts: Number(h.max_attempts),
    created_at: iso(h.created_at ?? '0'),
    updated_at: iso(h.updated_at ?? '0'),
    seq: Number(h.seq),
  };
  if (h.progress !== undefined) record.progress = Number(h.progress);
  if (h.started_at !== undefined) record.started_at = iso(h.started_at);
  if (h.ended_at !== undefined) record.ended_at = iso(h.ended_at);
  if (h.outputs !== undefined) record.outputs = JSON.parse(h.outputs) as unknown;
  if (h.error !== undefined) record.error = JSON.parse(h.error) as RunError;
  if (h.owner !== undefined) record.user = h.owner;
  if (h.external !== undefined) record.external = JSON.parse(h.external) as ExternalRun;
  return record;
}
