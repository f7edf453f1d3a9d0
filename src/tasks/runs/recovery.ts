import type { Logger } from '../../util/logger.js';
import { taskKey } from '../define-task.js';
import type { Executor } from '../executors/executor.js';
import type { RegisteredTask, TaskRef } from '../registry.js';
import type { RunChange, RunStore } from './run-store.js';

/** What restart recovery uses of its run service. */
export interface RecoveryHost {
  store: RunStore;
  executor: Executor;
  log: Logger;
  /** The task a ref names (local, else the remote catalog); throws when the catalog cannot answer. */
  resolveTask(ref: TaskRef): Promise<RegisteredTask | undefined>;
  /** Stores then publishes one update, in order with the run's others (see `RunService`). */
  apply(runId: string, change: RunChange): Promise<boolean>;
}

/**
 * Runs left unfinished by a previous process (crash, kill -9, restart) that nobody holds:
 * each is re-queued at its next attempt, or FAILED when its attempts are used up or its task
 * is gone. A run whose task cannot be looked up now (the remote engine is away) is left for
 * the next start. `RunService.start` calls it, unless `recover: false`.
 */
export async function recoverInterruptedRuns(host: RecoveryHost): Promise<void> {
  const unfinished = await host.store.listActive();
  const orphans = host.executor.orphaned ? await host.executor.orphaned(unfinished) : unfinished;
  for (const record of orphans) {
    const runId = record.run_id;
    const ref = {
      project: record.project,
      domain: record.domain,
      name: record.task,
      version: record.version,
    };
    let task: RegisteredTask | undefined;
    try {
      task = await host.resolveTask(ref);
    } catch (err) {
      // The remote engine cannot answer now: the run stays as it is, for the next start.
      host.log.warn(
        { err, run: runId },
        'cannot look the task of an interrupted run up; left for the next start',
      );
      continue;
    }
    // A run still QUEUED never started its attempt; one that started has used it up.
    const attempt = record.status === 'QUEUED' ? record.attempt : record.attempt + 1;
    // ifSeq: when several nodes start at once, only one of them takes each run over.
    if (!task) {
      await interrupted(
        host,
        runId,
        `interrupted: server restarted (task ${taskKey(ref)} is no longer registered)`,
        record.seq,
      );
      continue;
    }
    if (attempt > record.max_attempts) {
      await interrupted(host, runId, 'interrupted: server restarted', record.seq);
      continue;
    }
    const requeued = await host
      .apply(runId, {
        status: 'QUEUED',
        message: `re-queued after a server restart (attempt ${attempt} of ${record.max_attempts})`,
        attempt,
        ifSeq: record.seq,
      })
      .catch(() => false);
    // Still active, so it still counts against its user's limit: nothing to take again.
    if (!requeued) continue;
    try {
      await host.executor.submit({ runId, task, inputs: record.inputs, attempt });
    } catch (err) {
      await interrupted(
        host,
        runId,
        `interrupted: server restarted; re-queueing failed: ${(err as Error).message}`,
      );
    }
    host.log.info({ run: runId, task: task.key, attempt }, 're-queued a run interrupted by a restart');
  }
}

async function interrupted(
  host: RecoveryHost,
  runId: string,
  message: string,
  ifSeq?: number,
): Promise<void> {
  const change: RunChange = { status: 'FAILED', message, error: { kind: 'SYSTEM', message } };
  if (ifSeq !== undefined) change.ifSeq = ifSeq;
  if (await host.apply(runId, change).catch(() => false)) host.log.warn({ run: runId }, message);
}
