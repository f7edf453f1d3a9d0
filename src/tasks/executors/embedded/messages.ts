import type { MessagePort } from 'node:worker_threads';
import type { RunError } from '../../runs/types.js';

/** One attempt of a run, as a worker thread receives it. */
export interface AttemptJob {
  runId: string;
  attempt: number;
  /** `file:` URL of the task's module and the export that holds the definition. */
  module: string;
  exportName: string;
  inputs: unknown;
  /** Updates go out on it; an `abort` comes in on it. */
  port: MessagePort;
}

/** Worker → executor, while an attempt runs. */
export type WorkerMessage =
  | { type: 'started'; threadId: number }
  | { type: 'running' }
  | { type: 'report'; message: string; progress?: number }
  | {
      type: 'log';
      level: 'debug' | 'info' | 'warn' | 'error';
      message: string;
      fields?: Record<string, unknown>;
    };

/** Executor → worker: stop the attempt (the task's `ctx.signal` fires). */
export interface AbortMessage {
  type: 'abort';
  reason: 'cancel' | 'timeout';
}

/** How an attempt ended, as the worker returns it. */
export type AttemptResult = { ok: true; outputs: unknown } | { ok: false; aborted: boolean; error: RunError };
