import type { LimitStore } from '../../engine/limits.js';
import type { Hub } from '../../hub/hub.js';
import { WirehubError } from '../../protocol/index.js';
import { randomId } from '../../util/ids.js';
import { type Logger, silentLogger } from '../../util/logger.js';
import { taskKey } from '../define-task.js';
import type { Executor, ExecutorUpdate } from '../executors/executor.js';
import type { RegisteredTask, TaskRef, TaskRegistry } from '../registry.js';
import type { RunRequester } from './run-access.js';
import type { RunListQuery, RunStore } from './run-store.js';
import { canTransition, isTerminal } from './state-machine.js';
import { type RunRecord, type RunStatus, type RunUpdate, runChannel } from './types.js';

export interface RunServiceOptions {
  registry: TaskRegistry;
  executor: Executor;
  store: RunStore;
  hub: Hub;
  /** Base of run URLs (`<publicUrl>/runs/<id>`); otherwise each caller passes the request's own. */
  publicUrl?: string;
  log?: Logger;
  /**
   * The per-user limit on concurrent runs: a requester with `quota` holds one slot of
   * `runs:user:<user>` in `store` from submit until its run ends. Off when absent or 0.
   */
  quota?: { store: LimitStore; maxPerUser: number };
}

/** A checked request: the task exists and the inputs passed its schema. Nothing is stored yet. */
export interface PreparedRun {
  readonly runId: string;
  readonly task: RegisteredTask;
  readonly inputs: unknown;
  readonly requester: RunRequester;
}

interface LiveRun {
  status: RunStatus;
  seq: number;
  /** The per-user slot the run holds until it ends. */
  quotaKey?: string;
}

/** The limit-store key of a user's concurrent-run slots. */
export function runQuotaKey(user: string | undefined): string {
  return `runs:user:${user ?? ''}`;
}

const MAX_SHOWN = 200;
const shown = (s: string): string => (s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s);

/**
 * Runs: checks requests against the registry, hands runs to the executor, and turns what the
 * executor reports into the run's updates: each one is checked against the state machine,
 * stored (SQLite), then published on channel `run:<id>`. After a restart, runs that had not
 * ended are re-queued when attempts remain, or marked FAILED: none vanishes silently.
 *
 * @example
 * ```ts
 * const prepared = runs.prepare({ project: 'demo', domain: 'development', name: 'countdown', version: 'v1' }, { n: 3 });
 * await hub.subscribe(`run:${prepared.runId}`, subscriber); // before the first update exists
 * const record = await runs.submit(prepared);
 * const done = await runs.waitForEnd(record.run_id);
 * ```
 */
export class RunService {
  readonly registry: TaskRegistry;
  private readonly executor: Executor;
  private readonly store: RunStore;
  private readonly hub: Hub;
  private readonly log: Logger;
  private readonly publicUrl: string | undefined;
  private readonly active = new Map<string, LiveRun>();
  private readonly quota: RunServiceOptions['quota'];
  /** Updates that came in while `executor.submit` was still deciding. */
  private readonly pending = new Map<string, ExecutorUpdate[]>();
  private readonly waiters = new Map<string, ((record: RunRecord) => void)[]>();
  private closed = false;

  constructor(options: RunServiceOptions) {
    this.registry = options.registry;
    this.executor = options.executor;
    this.store = options.store;
    this.hub = options.hub;
    this.log = options.log ?? silentLogger;
    this.publicUrl = options.publicUrl?.replace(/\/+$/, '');
    this.quota = options.quota;
  }

  /** Starts the executor and deals with the runs a previous process left unfinished. */
  async start(): Promise<void> {
    this.store.open();
    await this.executor.start((runId, update) => this.onExecutorUpdate(runId, update));
    await this.recover();
  }

  /** Runs not yet ended on this node. */
  get activeCount(): number {
    return this.active.size;
  }

  /**
   * Checks a request: throws `unknown_task` or `invalid_inputs` (with the schema issues in
   * `details`). Mints the run id, so a caller can subscribe to `run:<id>` before submitting.
   * `requester` is who asks (recorded as the run's `user`, and counted by the per-user limit).
   */
  prepare(ref: TaskRef, inputs: unknown, requester: RunRequester = {}): PreparedRun {
    const task = this.registry.resolve(ref);
    if (!task) {
      throw new WirehubError(
        'unknown_task',
        `no task ${shown(taskKey(ref))}; GET /api/tasks lists the tasks`,
        {
          project: shown(ref.project),
          domain: shown(ref.domain),
          task: shown(ref.name),
          version: shown(ref.version),
        },
      );
    }
    const parsed = task.definition.inputs.safeParse(inputs ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: i.path.map(String),
        code: i.code,
        message: i.message,
      }));
      const first = issues[0];
      const where = first && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
      throw new WirehubError(
        'invalid_inputs',
        `the inputs do not match the inputs schema of ${task.key}: ${first?.message ?? 'invalid'}${where}`,
        { task: task.key, issues },
      );
    }
    return { runId: randomId('r', 12), task, inputs: parsed.data, requester };
  }

  /**
   * Queues a prepared run. Throws `queue_full` when the executor has no room, and
   * `too_many_runs` when the requester already has the most runs in progress it may have.
   */
  async submit(prepared: PreparedRun): Promise<RunRecord> {
    if (this.closed) throw new WirehubError('not_ready', 'the task runner is shut down');
    const { runId, task, inputs, requester } = prepared;
    if (this.active.has(runId) || this.pending.has(runId))
      throw new Error(`run ${runId} was already submitted`);
    const quotaKey = await this.takeSlot(requester);
    this.pending.set(runId, []);
    try {
      await this.executor.submit({ runId, task, inputs, attempt: 1 });
    } catch (err) {
      this.pending.delete(runId);
      this.releaseSlot(quotaKey);
      throw err;
    }
    const d = task.definition;
    try {
      this.store.createRun({
        run_id: runId,
        project: d.project,
        domain: d.domain,
        task: d.name,
        version: d.version,
        inputs,
        attempt: 1,
        max_attempts: (d.retries ?? 0) + 1,
        ...(requester.user === undefined ? {} : { user: requester.user }),
        ...(quotaKey === undefined ? {} : { quotaKey }),
      });
    } catch (err) {
      // Not stored means not accepted: stop it before it does anything.
      this.pending.delete(runId);
      this.releaseSlot(quotaKey);
      await this.executor.cancel(runId).catch(() => false);
      this.log.error({ err, run: runId }, 'storing a new run failed');
      throw new WirehubError('internal', 'the run could not be stored');
    }
    this.active.set(runId, { status: 'QUEUED', seq: 0, ...(quotaKey === undefined ? {} : { quotaKey }) });
    this.apply(runId, { status: 'QUEUED', message: `queued ${task.key}` });
    const early = this.pending.get(runId) ?? [];
    this.pending.delete(runId);
    for (const update of early) this.apply(runId, update);
    return this.mustGet(runId);
  }

  /** `prepare` then `submit`. */
  async run(ref: TaskRef, inputs: unknown, requester: RunRequester = {}): Promise<RunRecord> {
    return this.submit(this.prepare(ref, inputs, requester));
  }

  /** Runs in progress that hold a slot of `user`'s per-user limit (on this node's store). */
  async runsInProgress(user: string | undefined): Promise<number> {
    return this.quota ? this.quota.store.held(runQuotaKey(user)) : 0;
  }

  /**
   * Aborts a run. Throws `unknown_run`, or `run_finished` when it already ended. The
   * ABORTED update follows once the task has really stopped.
   */
  async cancel(runId: string): Promise<RunRecord> {
    const record = this.get(runId);
    if (!record) throw unknownRun(runId);
    if (isTerminal(record.status)) {
      throw new WirehubError('run_finished', `run ${runId} already ended: ${record.status}`, {
        run_id: runId,
        status: record.status,
      });
    }
    const known = await this.executor.cancel(runId);
    if (!known) {
      this.apply(runId, {
        status: 'ABORTED',
        message: 'aborted on request',
        error: { kind: 'USER', message: 'aborted on request' },
      });
    }
    return this.mustGet(runId);
  }

  get(runId: string): RunRecord | undefined {
    return this.store.getRun(runId);
  }

  /** A run's stored updates after `afterSeq`, oldest first. */
  updates(runId: string, afterSeq = 0): RunUpdate[] {
    return this.store.updates(runId, afterSeq);
  }

  /** Newest runs first; see `RunListQuery` (and `visibleRunsQuery` for what a principal may see). */
  list(query: RunListQuery): RunRecord[] {
    return this.store.list(query);
  }

  /** Resolves with the run's record once it has ended (at once if it already has). */
  waitForEnd(runId: string): Promise<RunRecord> {
    const record = this.get(runId);
    if (!record) return Promise.reject(unknownRun(runId));
    if (isTerminal(record.status)) return Promise.resolve(record);
    return new Promise((resolve) => {
      const list = this.waiters.get(runId) ?? [];
      list.push(resolve);
      this.waiters.set(runId, list);
    });
  }

  /** The run's page: `<publicUrl or base>/runs/<id>`. */
  url(runId: string, base: string): string {
    return `${this.publicUrl ?? base.replace(/\/+$/, '')}/runs/${encodeURIComponent(runId)}`;
  }

  /**
   * Stops the executor and closes the store. Runs still going stay unfinished in the store;
   * the next start re-queues or fails them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.executor.close();
    this.store.close();
    // Unfinished runs give their slots back: the next start takes them again as it re-queues.
    for (const run of this.active.values()) this.releaseSlot(run.quotaKey);
    this.active.clear();
    this.waiters.clear();
  }

  private mustGet(runId: string): RunRecord {
    const record = this.get(runId);
    if (!record) throw unknownRun(runId);
    return record;
  }

  private onExecutorUpdate(runId: string, update: ExecutorUpdate): void {
    const early = this.pending.get(runId);
    if (early) early.push(update);
    else this.apply(runId, update);
  }

  /** Checks, stores, then publishes one update. */
  private apply(runId: string, u: ExecutorUpdate): void {
    if (this.closed) return;
    const run = this.active.get(runId);
    if (!run) {
      this.log.debug({ run: runId, status: u.status }, 'update for a run that is not active: dropped');
      return;
    }
    if (!canTransition(run.status, u.status)) {
      this.log.warn({ run: runId, from: run.status, to: u.status }, 'invalid run transition: dropped');
      return;
    }
    const update: RunUpdate = {
      run_id: runId,
      seq: run.seq + 1,
      status: u.status,
      message: u.message,
      at: new Date().toISOString(),
    };
    if (u.progress !== undefined) update.progress = u.progress;
    if (u.outputs !== undefined) update.outputs = u.outputs;
    if (u.error !== undefined) update.error = u.error;
    const ended = isTerminal(u.status);
    try {
      this.store.appendUpdate(update, { attempt: u.attempt, started: u.status === 'RUNNING', ended });
    } catch (err) {
      // Called from executor events: a storage failure must not take the process down.
      // Watchers still get the update live; it is missing from the stored history.
      this.log.error({ err, run: runId, seq: update.seq }, 'storing a run update failed');
    }
    run.status = u.status;
    run.seq = update.seq;
    this.hub.publish({ channel: runChannel(runId), data: update }).catch((err: unknown) => {
      this.log.error({ err, run: runId }, 'publishing a run update failed');
    });
    if (ended) {
      this.active.delete(runId);
      this.releaseSlot(run.quotaKey);
      const waiters = this.waiters.get(runId);
      if (waiters) {
        this.waiters.delete(runId);
        const record = this.mustGet(runId);
        for (const resolve of waiters) resolve(record);
      }
    }
  }

  /** Runs left unfinished by a previous process (crash, kill -9, restart). */
  private async recover(): Promise<void> {
    for (const record of this.store.listActive()) {
      const runId = record.run_id;
      this.active.set(runId, { status: record.status, seq: record.seq });
      const ref = {
        project: record.project,
        domain: record.domain,
        name: record.task,
        version: record.version,
      };
      const task = this.registry.resolve(ref);
      // A run still QUEUED never started its attempt; one that started has used it up.
      const attempt = record.status === 'QUEUED' ? record.attempt : record.attempt + 1;
      if (!task) {
        this.interrupted(
          runId,
          `interrupted: server restarted (task ${taskKey(ref)} is no longer registered)`,
        );
        continue;
      }
      if (attempt > record.max_attempts) {
        this.interrupted(runId, 'interrupted: server restarted');
        continue;
      }
      this.apply(runId, {
        status: 'QUEUED',
        message: `re-queued after a server restart (attempt ${attempt} of ${record.max_attempts})`,
        attempt,
      });
      // The run held a per-user slot before the restart: it holds one again, over the limit or not.
      if (record.quotaKey !== undefined && this.quota) {
        const live = this.active.get(runId);
        if (live && (await this.quota.store.acquire(record.quotaKey, Number.POSITIVE_INFINITY)))
          live.quotaKey = record.quotaKey;
      }
      try {
        await this.executor.submit({ runId, task, inputs: record.inputs, attempt });
      } catch (err) {
        this.interrupted(
          runId,
          `interrupted: server restarted; re-queueing failed: ${(err as Error).message}`,
        );
      }
      this.log.info({ run: runId, task: task.key, attempt }, 're-queued a run interrupted by a restart');
    }
  }

  /** Takes one of the requester's run slots; undefined when no limit applies. */
  private async takeSlot(requester: RunRequester): Promise<string | undefined> {
    const quota = this.quota;
    if (!quota || quota.maxPerUser <= 0 || !requester.quota) return undefined;
    const key = runQuotaKey(requester.user);
    if (!(await quota.store.acquire(key, quota.maxPerUser))) {
      throw new WirehubError(
        'too_many_runs',
        `${requester.user ?? 'this user'} already has ${quota.maxPerUser} runs in progress; wait for one to end`,
        { max: quota.maxPerUser },
      );
    }
    return key;
  }

  private releaseSlot(key: string | undefined): void {
    if (key === undefined || !this.quota) return;
    const store = this.quota.store;
    // A remote store may fail; the slot then expires there, and the runs go on.
    Promise.resolve()
      .then(() => store.release(key))
      .catch((err: unknown) => this.log.warn({ err, key }, 'limit store release failed'));
  }

  private interrupted(runId: string, message: string): void {
    this.apply(runId, { status: 'FAILED', message, error: { kind: 'SYSTEM', message } });
    this.log.warn({ run: runId }, message);
  }
}

function unknownRun(runId: string): WirehubError {
  return new WirehubError('unknown_run', `no run ${shown(runId)}`, { run_id: shown(runId) });
}
