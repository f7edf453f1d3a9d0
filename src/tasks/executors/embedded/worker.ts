import { receiveMessageOnPort, threadId } from 'node:worker_threads';
import {
  isTaskDefinition,
  type TaskContext,
  type TaskDefinition,
  type TaskLogger,
} from '../../define-task.js';
import type { AbortMessage, AttemptJob, AttemptResult, WorkerMessage } from './messages.js';

/** Modules this thread already imported: a thread runs many attempts. */
const modules = new Map<string, Promise<Record<string, unknown>>>();

async function loadTask(module: string, exportName: string): Promise<TaskDefinition> {
  let mod = modules.get(module);
  if (!mod) {
    mod = import(module) as Promise<Record<string, unknown>>;
    modules.set(module, mod);
    mod.catch(() => modules.delete(module));
  }
  const value = (await mod)[exportName];
  if (!isTaskDefinition(value)) throw new Error(`${module} no longer exports a task named ${exportName}`);
  return value;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Clamps a progress value to 0-100 with one decimal; drops anything that is not a finite number. */
function cleanProgress(progress: unknown): number | undefined {
  if (typeof progress !== 'number' || !Number.isFinite(progress)) return undefined;
  return Math.round(Math.min(100, Math.max(0, progress)) * 10) / 10;
}

/**
 * Runs one attempt of a task on this worker thread (piscina calls it). It imports the
 * task's module here, so the task's CPU work never touches the server's event loop.
 */
export default async function runAttempt(job: AttemptJob): Promise<AttemptResult> {
  const { port } = job;
  const controller = new AbortController();
  const onMessage = (m: AbortMessage) => {
    if (m?.type === 'abort' && !controller.signal.aborted) controller.abort(new Error(`run ${m.reason}`));
  };
  // A CPU-bound task never yields to this thread's event loop, so the abort message would
  // wait forever: report() also checks the port synchronously.
  const pollAbort = () => {
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port))
      onMessage(m.message as AbortMessage);
  };
  const post = (m: WorkerMessage) => port.postMessage(m);
  port.on('message', onMessage);
  post({ type: 'started', threadId });
  try {
    let definition: TaskDefinition;
    try {
      definition = await loadTask(job.module, job.exportName);
    } catch (err) {
      return {
        ok: false,
        aborted: false,
        error: { kind: 'SYSTEM', message: `cannot load the task: ${messageOf(err)}` },
      };
    }
    const inputs = definition.inputs.safeParse(job.inputs);
    if (!inputs.success) {
      return {
        ok: false,
        aborted: false,
        error: { kind: 'SYSTEM', message: 'the inputs no longer match the task schema' },
      };
    }
    pollAbort();
    if (controller.signal.aborted)
      return { ok: false, aborted: true, error: { kind: 'USER', message: 'aborted' } };
    post({ type: 'running' });
    const log =
      (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) =>
        post(
          fields === undefined ? { type: 'log', level, message } : { type: 'log', level, message, fields },
        );
    const logger: TaskLogger = {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
    };
    const ctx: TaskContext = {
      runId: job.runId,
      attempt: job.attempt,
      signal: controller.signal,
      log: logger,
      report(message, progress) {
        pollAbort();
        const clean = cleanProgress(progress);
        post(
          clean === undefined
            ? { type: 'report', message: String(message) }
            : { type: 'report', message: String(message), progress: clean },
        );
      },
    };
    const value = await definition.run(inputs.data, ctx);
    if (controller.signal.aborted)
      return { ok: false, aborted: true, error: { kind: 'USER', message: 'aborted' } };
    let outputs: unknown = value;
    if (definition.outputs) {
      const checked = definition.outputs.safeParse(value);
      if (!checked.success) {
        return {
          ok: false,
          aborted: false,
          error: {
            kind: 'USER',
            message: `the outputs do not match the task's outputs schema: ${checked.error.message}`,
          },
        };
      }
      outputs = checked.data;
    }
    // Outputs are stored as JSON: make sure what the client sees is what was stored.
    return { ok: true, outputs: JSON.parse(JSON.stringify(outputs ?? null)) as unknown };
  } catch (err) {
    if (controller.signal.aborted)
      return { ok: false, aborted: true, error: { kind: 'USER', message: 'aborted' } };
    return { ok: false, aborted: false, error: { kind: 'USER', message: messageOf(err) } };
  } finally {
    port.off('message', onMessage);
    port.close();
  }
}
