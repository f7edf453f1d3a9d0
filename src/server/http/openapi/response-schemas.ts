// Response shapes of the HTTP API that have no zod schema of their own (their types are plain
// interfaces), written once for the OpenAPI document. The `Same` checks below fail the type
// check when a shape and its interface drift apart.
import { z } from 'zod';
import { RUN_STATUSES, runErrorSchema, runUpdateSchema } from '../../../protocol/index.js';
import type { TaskSummary } from '../../../tasks/registry.js';
import type { RunRecord, RunUpdate } from '../../../tasks/runs/types.js';

type Assignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Same keys (optional ones too: structural typing alone ignores them) and mutually assignable. */
type Same<A, B> = Assignable<keyof A, keyof B> extends true ? Assignable<A, B> : false;

const jsonSchemaDoc = z.record(z.string(), z.unknown()).describe('A JSON Schema.');

/** One task of `GET /api/tasks`. */
export const taskSummaryDoc = z.object({
  project: z.string(),
  domain: z.string(),
  name: z.string(),
  version: z.string(),
  ref: z.string().describe('project/domain/name/version'),
  description: z.string().optional(),
  timeout_ms: z.number().optional(),
  retries: z.number(),
  inputs: jsonSchemaDoc.describe('JSON Schema of the inputs (what a client may send).'),
  outputs: jsonSchemaDoc.optional().describe('JSON Schema of the outputs.'),
});

/** A run as stored (`GET /api/runs`, `GET /api/runs/{id}`). */
export const runRecordDoc = z.object({
  run_id: z.string(),
  project: z.string(),
  domain: z.string(),
  task: z.string(),
  version: z.string(),
  inputs: z.unknown(),
  status: z.enum(RUN_STATUSES),
  message: z.string(),
  progress: z.number().optional().describe('Percentage 0-100, when the task reported one.'),
  attempt: z.number().describe('The attempt running now (or last), 1-based.'),
  max_attempts: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
  started_at: z.string().optional(),
  ended_at: z.string().optional(),
  outputs: z.unknown().optional(),
  error: runErrorSchema.optional(),
  seq: z.number().describe('Sequence number of the last update.'),
  user: z.string().optional().describe('Who started the run; absent when nobody was signed in.'),
  external: z
    .object({
      executor: z.string().describe('The engine that runs it, e.g. `flyte`.'),
      id: z
        .record(z.string(), z.string())
        .describe("The engine's id of the run (Flyte: org, project, domain, name)."),
      url: z.string().optional().describe("The run's page in the engine's console."),
    })
    .optional()
    .describe('The run in another engine (a Flyte run), when one runs it.'),
});

/** `GET /api/runs/{id}`: the run, its page and every update so far. */
export const runDetailDoc = runRecordDoc.extend({
  url: z.string().describe("The run's URL: its page here, or the Flyte console's page of a Flyte run."),
  updates: z.array(runUpdateSchema),
});

const endpointStatsDoc = z.object({
  connections: z.number(),
  accepted: z.number(),
  messages_in: z.number(),
  messages_out: z.number(),
  bytes_in: z.number(),
  bytes_out: z.number(),
  slow_drops: z.number(),
  slow_disconnects: z.number(),
});

/** `GET /api/status`. */
export const serverStatusDoc = z.object({
  status: z.enum(['ready', 'draining']),
  uptime_ms: z.number(),
  auth: z.boolean().describe('Whether auth is on.'),
  tasks: z.boolean().describe('Whether the task runner is on.'),
  connections: z.number(),
  queued_bytes: z.number(),
  endpoints: z.record(z.string(), endpointStatsDoc).describe('Counters per endpoint name.'),
});

// `inputs`/`outputs` of a task summary are JSON Schema objects typed `unknown` in the interface.
const taskSummaryMatches: Same<
  Omit<z.output<typeof taskSummaryDoc>, 'inputs' | 'outputs'>,
  Omit<TaskSummary, 'inputs' | 'outputs'>
> = true;
const runRecordMatches: Same<z.output<typeof runRecordDoc>, RunRecord> = true;
const runUpdateMatches: Same<z.output<typeof runUpdateSchema>, RunUpdate> = true;
void [taskSummaryMatches, runRecordMatches, runUpdateMatches];
