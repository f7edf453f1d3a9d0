import type { Logger } from '../../util/logger.js';
import { taskKey } from '../define-task.js';
import type { Executor } from '../executors/executor.js';
import type { RegisteredTask, TaskRef } from '../registry.js';
import type { RunChange, RunStore } from './run-store.js';
import type { RunRecord } from './types.js';

/** What restart recovery uses of its run service. */
export interface RecoveryHost {
  store: RunStore;
  executor: Executor;
  log: Logger;
  /** The task a ref names (local, else the remote catalog); throws when the catalog cannot answer. */
  resolveTask(ref: TaskRef): Promise<RegisteredTask | undefined>;
  /** Stores then publishes one update, in order with the run's others (see `RunService`). */
  apply(runId: string, change: RunChange): Promise<boolean>;
  /** True once the service closed: a take-over in progress stops. */
  closed?(): boolean;
}

/** What a taken-over run's update says, by why nobody held it. */
const TAKE_OVER = {
  restart: { interrupted: 'server restarted', requeued: 'after a server restart' },
  lost: { interrupted: 'its attempt was lost', requeued: 'after its attempt was lost' },
} as const;

/**
 * Runs left unfinished by a previous process (crash, kill -9, restart) that nobody holds:
 * each is re-queued at its next attempt, or FAILED when its attempts are used up or its task
 * is gone. A run whose task cannot be looked up now (the remote engine is away) is left for
 * the next start. `RunService.start` calls it, unless `recover: false`.
 */
export async function recoverInterruptedRuns(host: RecoveryHost): Promise<void> {
  const unfinished = await host.store.listActive();
  const orphans = host.executor.orphaned ? await host.executor.orphaned(unfinished) : unfinished;
  await takeOver(host, orphans, 'restart');
}

/**
 * Runs whose attempt the executor lost while the cluster kept running (see `Executor.lost`:
 * a Redis that came back without their job), taken over the same way. `RunService` calls it
 * every `lostSweepMs` when its executor can tell.
 */
export async function recoverLostRuns(host: RecoveryHost): Promise<void> {
  if (!host.executor.lost) return;
  const lost = await host.executor.lost(await host.store.listActive());
  if (lost.length > 0) host.log.warn({ runs: lost.length }, 'runs whose attempt was lost: taking them over');
  await takeOver(host, lost, 'lost');
}

async function takeOver(
  host: RecoveryHost,
  orphans: RunRecord[],
  why: keyof typeof TAKE_OVER,
): Promise<void> {
  const says = TAKE_OVER[why];
  for (const record of orphans) {
    if (host.closed?.()) return;
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
      // The remote engine cannot answer now: the run stays as it is, for the next look.
      host.log.warn({ err, run: runId }, 'cannot look the task of an interrupted run up; left for later');
      continue;
    }
    // A run still QUEUED never started its attempt; one that started has used it up.
    const attempt = record.status === 'QUEUED' ? record.attempt : record.attempt + 1;
    // ifSeq: when several nodes look at once, only one of them takes each run over.
    if (!task) {
      await interrupted(
        host,
        runId,
        `interrupted: ${says.interrupted} (task ${taskKey(ref)} is no longer registered)`,
        record.seq,
      );
      continue;
    }
    if (attempt > record.max_attempts) {
      await interrupted(host, runId, `interrupted: ${says.interrupted}`, record.seq);
      continue;
    }
    const requeued = await host
      .apply(runId, {
        status: 'QUEUED',
        message: `re-queued ${says.requeued} (attempt ${attempt} of ${record.max_attempts})`,
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
        `interrupted: ${says.interrupted}; re-queueing failed: ${(err as Error).message}`,
      );
    }
    host.log.info({ run: runId, task: task.key, attempt, why }, 're-queued a run nobody held');
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
