import { runRecordOf } from '../stored-run.js';
import type { RunRecord, RunStatus } from '../types.js';

/** How the Redis run store reads its hashes and replies. */

/** A flat `[field, value, …]` reply as an object. */
export function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

/** A key prefix as a literal SCAN pattern (`*`, `?`, `[`, `]` and `\\` escaped). */
export const globLiteral = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

const num = (text: string | undefined): number | undefined => (text === undefined ? undefined : Number(text));

/** A run's record from its hash, or undefined when it has none (expired or unknown). */
export function toRecord(runId: string, h: Record<string, string>): RunRecord | undefined {
  if (h.status === undefined) return undefined;
  return runRecordOf({
    id: runId,
    project: h.project ?? '',
    domain: h.domain ?? '',
    name: h.name ?? '',
    version: h.version ?? '',
    inputs: h.inputs ?? 'null',
    status: h.status as RunStatus,
    message: h.message ?? '',
    attempt: Number(h.attempt),
    max_attempts: Number(h.max_attempts),
    created_at: Number(h.created_at ?? '0'),
    updated_at: Number(h.updated_at ?? '0'),
    seq: Number(h.seq),
    progress: num(h.progress),
    started_at: num(h.started_at),
    ended_at: num(h.ended_at),
    outputs: h.outputs,
    error: h.error,
    owner: h.owner,
    external: h.external,
  });
}
