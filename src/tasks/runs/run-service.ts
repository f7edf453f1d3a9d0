import type { Hub } from '../../hub/hub.js';
import { assertJsonValue, defaults, WirehubError } from '../../protocol/index.js';
import { randomId } from '../../util/ids.js';
import { type Logger, silentLogger } from '../../util/logger.js';
import { SerialByKey } from '../../util/serial.js';
import { LATEST, taskKey } from '../define-task.js';
import type { Executor } from '../executors/executor.js';
import type { RegisteredTask, TaskRef, TaskRegistry } from '../registry.js';
import { type RecoveryHost, recoverInterruptedRuns, recoverLostRuns } from './recovery.js';
import type { RunRequester } from './run-access.js';
import { RunPublisher } from './run-publisher.js';
import type { RunChange, RunListQuery, RunQuota, RunStore } from './run-store.js';
import { isTerminal } from './state-machine.js';
import { type RunRecord, type RunUpdate, runChannel } from './types.js';

/**
 * Tasks that are not this server's own but another engine's (a Flyte cluster): looked up
 * there, for requests that no local task answers.
 */
export interface RemoteTaskCatalog {
  /**
   * The task a ref names, or undefined when the engine has none. Throws
   * `executor_unavailable` when the engine cannot answer.
   */
  resolve(ref: TaskRef): Promise<RegisteredTask | undefined>;
}

export interface RunServiceOptions {
  registry: TaskRegistry;
  /**
   * Where tasks this server does not have are looked up (Flyte). A request goes there when no
   * local task has its project/domain/name (any version); otherwise it stays here.
   */
  remoteTasks?: RemoteTaskCatalog;
  executor: Executor;
  store: RunStore;
  hub: Hub;
  /** Base of run URLs (`<publicUrl>/runs/<id>`); otherwise each caller passes the request's own. */
  publicUrl?: string;
  /**
   * At start, re-queue or fail the runs nobody holds any more (left by a crash or restart).
   * Default true; a `wirehub worker` leaves that to the nodes.
   */
  recover?: boolean;
  /**
   * While running, how often to ask the executor for runs whose attempt was lost (see
   * `Executor.lost`; a Redis that lost its last writes) and take them over. Default 30 s;
   * only with an executor that can tell, and only where `recover` is on.
   */
  lostSweepMs?: number;
  log?: Logger;
  /**
   * The per-user limit on concurrent runs: a requester with `quota` may have at most
   * `maxPerUser` runs queued or running. The run store counts them (atomically with creating
   * a run), so the limit is as wide as the store: the node, or the whole Redis cluster. Off
   * when absent or 0.
   */
  quota?: { maxPerUser: number };
  /**
   * Most levels of nesting in a run's inputs (the server's `maxJsonDepth`). Inputs from the
   * network were checked when their JSON was parsed; this also bounds inputs that code hands
   * to `run`/`prepare`, before they are stored or cloned to a worker. Default 64.
   */
  maxJsonDepth?: number;
}

/** A checked request: the task exists and the inputs passed its schema. Nothing is stored yet. */
export interface PreparedRun {
  readonly runId: string;
  readonly task: RegisteredTask;
  readonly inputs: unknown;
  readonly requester: RunRequester;
}

/** The quota key of a user's runs in progress. */
export function runQuotaKey(user: string | undefined): string {
  return `runs:user:${user ?? ''}`;
}

const MAX_SHOWN = 200;
const shown = (s: string): string => (s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s);

/**
 * Runs: checks requests against the registry, hands runs to the executor, and turns what the
 * executor reports into the run's updates: the store checks each one against the state
 * machine and gives it its `seq` (atomically, so several processes may report on the same
 * run), then it is published on channel `run:<id>`. After a restart, runs nobody holds any
 * more are re-queued when attempts remain, or marked FAILED: none vanishes silently.
 *
 * @example
 * ```ts
 * const prepared = runs.prepare({ project: 'demo', domain: 'development', name: 'countdown', version: 'v1' }, { n: 3 });
 * const stop = await hub.watch(`run:${prepared.runId}`, onUpdate); // before the first update exists
 * const record = await runs.submit(prepared);
 * const done = await runs.waitForEnd(record.run_id);
 * ```
 */
export class RunService {
  readonly registry: TaskRegistry;
  private readonly remoteTasks: RemoteTaskCatalog | undefined;
  private readonly executor: Executor;
  private readonly store: RunStore;
  private readonly hub: Hub;
  private readonly log: Logger;
  private readonly publicUrl: string | undefined;
  private readonly recoverAtStart: boolean;
  private readonly lostSweepMs: number;
  private lostSweep: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly quota: RunServiceOptions['quota'];
  private readonly maxJsonDepth: number;
  /** Per run, the tail of its applies: a run's updates are stored and published in order. */
  private readonly chains = new SerialByKey();
  /** Publishes stored updates in order, retrying those the broker refused. */
  private readonly publisher: RunPublisher;
  private closed = false;

  constructor(options: RunServiceOptions) {
    this.registry = options.registry;
    this.remoteTasks = options.remoteTasks;
    this.executor = options.executor;
    this.store = options.store;
    this.hub = options.hub;
    this.log = options.log ?? silentLogger;
    this.publisher = new RunPublisher(this.hub, { log: this.log });
    this.publicUrl = options.publicUrl?.replace(/\/+$/, '');
    this.recoverAtStart = options.recover ?? true;
    this.lostSweepMs = Math.max(100, options.lostSweepMs ?? 30_000);
    this.quota = options.quota;
    this.maxJsonDepth = options.maxJsonDepth ?? defaults.maxJsonDepth;
  }

  /** Starts the executor and deals with the runs a previous process left unfinished. */
  async start(): Promise<void> {
    await this.store.open();
    await this.executor.start((runId, update) => this.apply(runId, update));
    if (!this.recoverAtStart) return;
    await recoverInterruptedRuns(this.recoveryHost);
    if (this.executor.lost) {
      this.lostSweep = setInterval(() => {
        if (this.sweeping || this.closed) return;
        this.sweeping = recoverLostRuns(this.recoveryHost)
          .catch((err: unknown) => this.log.warn({ err }, 'looking for runs with a lost attempt failed'))
          .finally(() => {
            this.sweeping = undefined;
          });
      }, this.lostSweepMs);
      this.lostSweep.unref();
    }
  }

  /** Runs accepted and not yet ended, as the executor counts them. */
  get activeCount(): number {
    return this.executor.active;
  }

  /**
   * Checks a request: throws `unknown_task`, `json_too_deep` (inputs nested deeper than
   * `maxJsonDepth`) or `invalid_inputs` (with the schema issues in `details`; an unknown key
   * is one, naming it). Mints the run id, so a caller can subscribe to `run:<id>` before submitting.
   * `requester` is who asks (recorded as the run's `user`, and counted by the per-user limit).
   */
  async prepare(ref: TaskRef, inputs: unknown, requester: RunRequester = {}): Promise<PreparedRun> {
    const task = await this.resolveTask(ref);
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
    try {
      assertJsonValue(inputs ?? {}, 'inputs', this.maxJsonDepth);
    } catch (err) {
      if (err instanceof WirehubError && err.code === 'invalid_message') {
        throw new WirehubError('invalid_inputs', err.message, { task: task.key });
      }
      throw err;
    }
    const parsed = task.definition.inputs.safeParse(inputs ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: i.path.map(String),
        code: i.code,
        message: i.message,
        ...(i.code === 'unrecognized_keys' ? { keys: i.keys } : {}),
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
   * The task a ref names: this server's own when it has a task of that project/domain/name
   * (any version), else the remote catalog's (Flyte), if there is one. (Under `--workers` the
   * primary looks up the tasks of runs a worker hands it this way.)
   */
  async resolveTask(ref: TaskRef): Promise<RegisteredTask | undefined> {
    const local = this.registry.resolve(ref);
    if (local || !this.remoteTasks || this.registry.resolve({ ...ref, version: LATEST })) return local;
    return this.remoteTasks.resolve(ref);
  }

  /**
   * Queues a prepared run: stores it with its QUEUED update and publishes that, then hands it
   * to the executor, so whatever the executor reports next (possibly from another process)
   * comes after it. Throws `queue_full` when the executor has no room (the run is forgotten),
   * and `too_many_runs` when the requester already has the most runs in progress it may have.
   */
  async submit(prepared: PreparedRun): Promise<RunRecord> {
    if (this.closed) throw new WirehubError('not_ready', 'the task runner is shut down');
    const { runId, task, inputs, requester } = prepared;
    const d = task.definition;
    const quota = this.quotaOf(requester);
    const external = this.executor.externalRun?.(runId, task);
    let first: RunUpdate;
    try {
      first = await this.store.createRun(
        {
          run_id: runId,
          project: d.project,
          domain: d.domain,
          task: d.name,
          version: d.version,
          inputs,
          attempt: 1,
          max_attempts: (d.retries ?? 0) + 1,
          ...(requester.user === undefined ? {} : { user: requester.user }),
          ...(quota === undefined ? {} : { quota }),
          ...(external === undefined ? {} : { external }),
        },
        `queued ${task.key}`,
      );
    } catch (err) {
      // Not stored means not accepted: nothing was started.
      if (err instanceof WirehubError && err.code === 'too_many_runs') throw err;
      this.log.error({ err, run: runId }, 'storing a new run failed');
      if (err instanceof WirehubError) throw err; // e.g. broker_unavailable: Redis is away
      throw new WirehubError('internal', 'the run could not be stored');
    }
    await this.publish(first);
    try {
      await this.executor.submit({ runId, task, inputs, attempt: 1 });
    } catch (err) {
      await this.store.deleteRun(runId).catch((e: unknown) => {
        this.log.error({ err: e, run: runId }, 'forgetting a refused run failed');
      });
      throw err;
    }
    return this.mustGet(runId);
  }

  /** `prepare` then `submit`. */
  async run(ref: TaskRef, inputs: unknown, requester: RunRequester = {}): Promise<RunRecord> {
    return this.submit(await this.prepare(ref, inputs, requester));
  }

  /** Runs in progress that count against `user`'s per-user limit (in the whole run store). */
  runsInProgress(user: string | undefined): Promise<number> {
    return this.store.countActive(runQuotaKey(user));
  }

  /**
   * Aborts a run. Throws `unknown_run`, or `run_finished` when it already ended. The
   * ABORTED update follows once the task has really stopped.
   */
  async cancel(runId: string): Promise<RunRecord> {
    const record = await this.get(runId);
    if (!record) throw unknownRun(runId);
    if (isTerminal(record.status)) {
      throw new WirehubError('run_finished', `run ${runId} already ended: ${record.status}`, {
        run_id: runId,
        status: record.status,
      });
    }
    const known = await this.executor.cancel(runId);
    if (!known) {
      await this.apply(runId, {
        status: 'ABORTED',
        message: 'aborted on request',
        error: { kind: 'USER', message: 'aborted on request' },
      });
    }
    return this.mustGet(runId);
  }

  get(runId: string): Promise<RunRecord | undefined> {
    return this.store.getRun(runId);
  }

  /** A run's stored updates after `afterSeq`, oldest first. */
  updates(runId: string, afterSeq = 0): Promise<RunUpdate[]> {
    return this.store.updates(runId, afterSeq);
  }

  /** Newest runs first; see `RunListQuery` (and `visibleRunsQuery` for what a principal may see). */
  list(query: RunListQuery): Promise<RunRecord[]> {
    return this.store.list(query);
  }

  /**
   * Resolves with the run's record once it has ended (at once if it already has), wherever
   * its end is applied: this process, another node, a worker.
   */
  async waitForEnd(runId: string): Promise<RunRecord> {
    const channel = runChannel(runId);
    let ended!: () => void;
    const end = new Promise<void>((resolve) => {
      ended = resolve;
    });
    // Follow the channel before reading the record, so an end applied in between is not missed.
    const unwatch = await this.hub.watch(channel, (pub) => {
      if (isTerminal((pub.data as RunUpdate).status)) ended();
    });
    try {
      const record = await this.get(runId);
      if (!record) throw unknownRun(runId);
      if (!isTerminal(record.status)) await end;
      return isTerminal(record.status) ? record : await this.mustGet(runId);
    } finally {
      unwatch();
    }
  }

  /** The run's page: `<publicUrl or base>/runs/<id>`. */
  url(runId: string, base: string): string {
    return `${this.publicUrl ?? base.replace(/\/+$/, '')}/runs/${encodeURIComponent(runId)}`;
  }

  /**
   * The run's URL as answers show it: the engine's console page of a run another engine runs
   * (a Flyte run, as the Flyte SDK's `run.url`), else its page here.
   */
  runUrl(record: Pick<RunRecord, 'run_id' | 'external'>, base: string): string {
    return record.external?.url ?? this.url(record.run_id, base);
  }

  /**
   * Stops the executor and closes the store. Runs still going stay unfinished in the store;
   * the next start re-queues or fails them (with a distributed executor, other workers go on
   * with them).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.lostSweep);
    await this.sweeping;
    await this.executor.close();
    await this.chains.settled();
    this.publisher.close();
    await this.publisher.settled();
    await this.store.close();
  }

  private async mustGet(runId: string): Promise<RunRecord> {
    const record = await this.get(runId);
    if (!record) throw unknownRun(runId);
    return record;
  }

  /**
   * Stores, then publishes one update, after the run's earlier ones. Resolves true when it was
   * stored, false when the store refused it (the run ended, an invalid move, a stale attempt);
   * rejects when the store failed.
   */
  private apply(runId: string, change: RunChange): Promise<boolean> {
    return this.chains.run(runId, () => this.applyNow(runId, change));
  }

  private async applyNow(runId: string, change: RunChange): Promise<boolean> {
    if (this.closed) return false;
    let result: Awaited<ReturnType<RunStore['apply']>>;
    try {
      result = await this.store.apply(runId, change);
    } catch (err) {
      this.log.error({ err, run: runId, status: change.status }, 'storing a run update failed');
      throw err;
    }
    if (!result.applied) {
      this.log.debug(
        { run: runId, status: change.status, reason: result.reason, current: result.status },
        'run update refused',
      );
      return false;
    }
    // Not awaited: the next update's publish is issued after this one, which keeps them in order.
    void this.publish(result.update);
    return true;
  }

  private publish(update: RunUpdate): Promise<void> {
    return this.publisher.publish(update);
  }

  /** What restart and lost-attempt recovery use of this service. */
  private get recoveryHost(): RecoveryHost {
    return {
      store: this.store,
      executor: this.executor,
      log: this.log,
      resolveTask: (ref) => this.resolveTask(ref),
      apply: (runId, change) => this.apply(runId, change),
      closed: () => this.closed,
    };
  }

  /** The limit the requester's new run counts against; undefined when none applies. */
  private quotaOf(requester: RunRequester): RunQuota | undefined {
    const max = this.quota?.maxPerUser ?? 0;
    if (max <= 0 || !requester.quota) return undefined;
    return {
      key: runQuotaKey(requester.user),
      max,
      ...(requester.user === undefined ? {} : { who: requester.user }),
    };
  }
}

function unknownRun(runId: string): WirehubError {
  return new WirehubError('unknown_run', `no run ${shown(runId)}`, { run_id: shown(runId) });
}
