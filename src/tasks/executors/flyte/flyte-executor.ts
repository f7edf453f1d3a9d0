import { createHash } from 'node:crypto';
import { Code } from '@connectrpc/connect';
import { WirehubError } from '../../../protocol/index.js';
import { type Logger, silentLogger } from '../../../util/logger.js';
import type { RegisteredTask, TaskRef } from '../../registry.js';
import { isTerminal } from '../../runs/state-machine.js';
import type { ExternalRun, RunRecord, RunStatus } from '../../runs/types.js';
import type { ExecutionRequest, Executor, ExecutorListener, ExecutorUpdate } from '../executor.js';
import { connectCode, type FlyteClient, flyteError } from './client.js';
import { consoleRunUrl } from './config.js';
import type { FlyteTasks } from './flyte-tasks.js';
import type { ActionDetails, RunIdentifier } from './idl.js';
import { LiteralMismatch } from './literals.js';
import { PhaseTranslator } from './phases.js';
import { type FlyteTaskInterface, inputsToLiterals, outputsToJson } from './task-interface.js';
import { watchAction } from './watch-action.js';

export interface FlyteExecutorOptions {
  /** Runs followed at once; one more is refused with `queue_full`. Default: the client config's `maxRuns`. */
  maxRuns?: number;
  /** First pause before watching a run again after its stream failed (doubles up to 10 s). Default 500 ms. */
  watchBackoffMs?: number;
  log?: Logger;
}

/** The run's identity on Flyte, as stored with the wirehub run. */
type FlyteRunId = Pick<RunIdentifier, 'org' | 'project' | 'domain' | 'name'>;

interface FollowedRun {
  readonly runId: string;
  readonly flyte: FlyteRunId;
  readonly ref: TaskRef;
  readonly translator: PhaseTranslator;
  readonly stop: AbortController;
  iface: FlyteTaskInterface | undefined;
  done: Promise<void> | undefined;
}

/** The root action of a run: the task the run was created with. */
const ROOT_ACTION = 'a0';

/**
 * The Flyte run name of a wirehub run: `wh` and 24 hex digits of a hash of its id, lowercase
 * and 26 characters (Flyte run names are DNS-safe, at most 30). Choosing it (instead of letting
 * Flyte generate one) makes creating a run idempotent: a run created again after a restart
 * finds its own Flyte run (`AlreadyExists`) instead of starting a second one.
 */
export function flyteRunName(runId: string): string {
  return `wh${createHash('sha256').update(runId).digest('hex').slice(0, 24)}`;
}

/**
 * Runs tasks on a Flyte 2 cluster: `RunService.CreateRun` with the task's id and its inputs as
 * literals (typed by the task's own interface), then `WatchActionDetails` on the run's root
 * action, relaying each phase as a run update, reading the outputs of a finished action with
 * `GetActionData`, and `AbortRun` on cancel. Retries and timeouts are Flyte's (the task's
 * template); a retry shows as a QUEUED update. The run is named after the wirehub run (see
 * `flyteRunName`) and stored with it, so after a restart `orphaned()` re-attaches to every
 * Flyte run still in progress instead of marking it failed.
 *
 * @example
 * ```ts
 * const client = connectFlyte(resolveFlyteConfig({ endpoint: 'http://localhost:8090' }));
 * const tasks = new FlyteTasks(client);
 * const executor = new FlyteExecutor(client, tasks);
 * const task = await tasks.resolve({ project: 'flytesnacks', domain: 'development', name: 'hello.main', version: 'v1' });
 * await executor.submit({ runId: 'r-1', task: task!, inputs: { name: 'Ada' }, attempt: 1 });
 * ```
 */
export class FlyteExecutor implements Executor {
  readonly kind = 'flyte';
  readonly maxRuns: number;
  private readonly runs = new Map<string, FollowedRun>();
  private readonly log: Logger;
  private readonly watchBackoffMs: number;
  private listener: ExecutorListener | undefined;
  private closed = false;
  private draining = false;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly client: FlyteClient,
    private readonly tasks: FlyteTasks,
    options: FlyteExecutorOptions = {},
  ) {
    this.maxRuns = options.maxRuns ?? client.config.maxRuns;
    this.log = options.log ?? silentLogger;
    this.watchBackoffMs = options.watchBackoffMs ?? 500;
  }

  get active(): number {
    return this.runs.size;
  }

  async start(listener: ExecutorListener): Promise<void> {
    this.listener = listener;
  }

  externalRun(runId: string, task: RegisteredTask): ExternalRun {
    const id = this.flyteId(runId, task.definition);
    return { executor: this.kind, id: { ...id }, url: consoleRunUrl(this.client.config, id) };
  }

  private flyteId(runId: string, d: { project: string; domain: string }): FlyteRunId {
    return { org: this.client.config.org, project: d.project, domain: d.domain, name: flyteRunName(runId) };
  }

  async submit(request: ExecutionRequest): Promise<void> {
    if (this.closed) throw new WirehubError('not_ready', 'the task executor is shut down');
    if (this.draining) throw new WirehubError('not_ready', 'this node is shutting down; try another node');
    const { runId, task } = request;
    if (this.runs.has(runId)) throw new Error(`run ${runId} was already submitted`);
    if (this.runs.size >= this.maxRuns) {
      throw new WirehubError(
        'queue_full',
        `this node already follows ${this.maxRuns} Flyte runs; try again later`,
        { capacity: this.maxRuns },
      );
    }
    const d = task.definition;
    const ref: TaskRef = { project: d.project, domain: d.domain, name: d.name, version: d.version };
    const iface = this.tasks.interfaceOf(task) ?? (await this.tasks.interfaceFor(ref));
    if (!iface) throw new WirehubError('unknown_task', `Flyte has no task ${task.key}`, { ...ref });
    let literals: ReturnType<typeof inputsToLiterals>;
    try {
      literals = inputsToLiterals(iface, request.inputs);
    } catch (err) {
      if (!(err instanceof LiteralMismatch)) throw err;
      throw new WirehubError('invalid_inputs', `the inputs do not fit ${task.key}: ${err.message}`, {
        task: task.key,
        issues: err.misfits.map((m) => ({ path: m.path, code: 'custom', message: m.message })),
      });
    }
    const flyte = this.flyteId(runId, d);
    const run = this.track(runId, flyte, ref, new PhaseTranslator(iface.retries + 1), iface);
    try {
      await this.client.runs.createRun(
        {
          id: { case: 'runId', value: flyte },
          task: { case: 'taskId', value: { org: iface.org || flyte.org, ...ref } },
          inputWrapper: { case: 'inputs', value: { literals, context: [] } },
        },
        { timeoutMs: this.client.config.callTimeoutMs },
      );
    } catch (err) {
      const code = connectCode(err);
      if (code !== Code.AlreadyExists) {
        this.runs.delete(runId);
        if (
          code === undefined ||
          code === Code.Unavailable ||
          code === Code.DeadlineExceeded ||
          code === Code.Unknown ||
          code === Code.Internal
        ) {
          // It may have been created before the answer was lost: take it back, so nothing is left half-made.
          await this.client.runs
            .abortRun({ runId: flyte, reason: 'wirehub could not record the run' }, { timeoutMs: 5_000 })
            .catch(() => {});
        }
        throw flyteError(err, 'RunService.CreateRun');
      }
      // Created before (a run submitted again after a restart): follow that one.
    }
    this.follow(run);
  }

  async cancel(runId: string): Promise<boolean> {
    const run = this.runs.get(runId);
    if (!run || this.closed) return false;
    try {
      await this.client.runs.abortRun(
        { runId: run.flyte, reason: 'aborted on request' },
        { timeoutMs: this.client.config.callTimeoutMs },
      );
    } catch (err) {
      if (connectCode(err) !== Code.NotFound) throw flyteError(err, 'RunService.AbortRun');
      // Flyte has no such run (any more): nothing runs, so the run ends here.
      await this.finish(run, {
        status: 'ABORTED',
        message: 'aborted on request',
        error: { kind: 'USER', message: 'aborted on request' },
      });
    }
    return true;
  }

  /**
   * Re-attaches to the Flyte runs of these unfinished runs (after a restart): each one Flyte
   * has is followed again from where the stored run stands, and ends as it ends on Flyte. Runs
   * Flyte does not have (the process stopped before creating them) are returned: the run
   * service submits them again, under the same Flyte name. Runs of other executors are returned.
   */
  async orphaned<R extends RunRecord>(records: R[]): Promise<R[]> {
    const orphans: R[] = [];
    for (const record of records) {
      const ext = record.external;
      if (ext?.executor !== this.kind) {
        orphans.push(record);
        continue;
      }
      if (this.runs.has(record.run_id)) continue;
      const flyte: FlyteRunId = {
        org: ext.id.org ?? '',
        project: ext.id.project ?? record.project,
        domain: ext.id.domain ?? record.domain,
        name: ext.id.name ?? flyteRunName(record.run_id),
      };
      try {
        await this.client.runs.getActionDetails(
          { actionId: { run: flyte, name: ROOT_ACTION } },
          { timeoutMs: this.client.config.callTimeoutMs },
        );
      } catch (err) {
        if (connectCode(err) === Code.NotFound) {
          orphans.push(record);
          continue;
        }
        // Unreachable for now: follow it anyway, the watch keeps trying.
        this.log.warn(
          { err, run: record.run_id },
          'Flyte unreachable while re-attaching a run; will keep trying',
        );
      }
      const ref: TaskRef = {
        project: record.project,
        domain: record.domain,
        name: record.task,
        version: record.version,
      };
      const from = { status: record.status as RunStatus, attempt: record.attempt };
      const run = this.track(
        record.run_id,
        flyte,
        ref,
        new PhaseTranslator(record.max_attempts, from),
        undefined,
      );
      this.follow(run);
      this.log.info({ run: record.run_id, flyte: flyte.name }, 're-attached to a Flyte run after a restart');
    }
    return orphans;
  }

  /**
   * Stops following runs: no new run is taken; runs followed get up to `timeoutMs` to end, then
   * this process stops watching them. Nothing is interrupted: the Flyte runs go on, stay
   * unfinished in the run store, and the next start re-attaches to them.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.draining = true;
    if (this.runs.size > 0) {
      await new Promise<void>((resolve) => {
        this.onIdle = resolve;
        setTimeout(resolve, timeoutMs).unref();
      });
    }
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const runs = [...this.runs.values()];
    this.runs.clear();
    for (const run of runs) run.stop.abort();
    await Promise.allSettled(runs.map((r) => r.done));
  }

  private track(
    runId: string,
    flyte: FlyteRunId,
    ref: TaskRef,
    translator: PhaseTranslator,
    iface: FlyteTaskInterface | undefined,
  ): FollowedRun {
    const run: FollowedRun = {
      runId,
      flyte,
      ref,
      translator,
      stop: new AbortController(),
      iface,
      done: undefined,
    };
    this.runs.set(runId, run);
    return run;
  }

  private follow(run: FollowedRun): void {
    const actionId = { run: run.flyte, name: ROOT_ACTION };
    run.done = watchAction(this.client, actionId, (d) => this.onDetails(run, d), run.stop.signal, {
      initialBackoffMs: this.watchBackoffMs,
      log: this.log,
    }).then(async (end) => {
      if (end.kind !== 'failed') return;
      const why = end.error instanceof Error ? end.error.message : String(end.error);
      const message = `lost the Flyte run ${run.flyte.name}: ${why}`;
      await this.finish(run, { status: 'FAILED', message, error: { kind: 'SYSTEM', message } });
    });
  }

  /** Relays what one snapshot of the root action says; true once the run ended. */
  private async onDetails(run: FollowedRun, details: ActionDetails): Promise<boolean> {
    for (const step of run.translator.next(details)) {
      if (step.kind === 'update') {
        await (isTerminal(step.update.status) ? this.finish(run, step.update) : this.emit(run, step.update));
      } else {
        await this.finish(run, await this.succeeded(run, step.recovered));
      }
    }
    return run.translator.done;
  }

  /** The SUCCEEDED update with the outputs as JSON, or FAILED when they do not fit the interface. */
  private async succeeded(run: FollowedRun, recovered: boolean): Promise<ExecutorUpdate> {
    const how = recovered ? 'RECOVERED on Flyte (outputs of an earlier run)' : 'SUCCEEDED on Flyte';
    let outputs: Record<string, unknown>;
    try {
      run.iface ??= await this.tasks.interfaceFor(run.ref);
      const data = await this.client.runs.getActionData(
        { actionId: { run: run.flyte, name: ROOT_ACTION } },
        { timeoutMs: this.client.config.callTimeoutMs },
      );
      if (!run.iface)
        return { status: 'SUCCEEDED', message: `${how} (its task is gone: no outputs)`, progress: 100 };
      outputs = outputsToJson(run.iface, data.outputs);
    } catch (err) {
      if (err instanceof LiteralMismatch) {
        const message = `the outputs do not match the outputs schema of ${run.ref.name}: ${err.message}`;
        return { status: 'FAILED', message: `failed: ${message}`, error: { kind: 'USER', message } };
      }
      this.log.warn({ err, run: run.runId }, 'reading the outputs of a Flyte run failed');
      const why = flyteError(err, 'RunService.GetActionData').message;
      return {
        status: 'SUCCEEDED',
        message: `${how}; its outputs could not be read (${why})`,
        progress: 100,
      };
    }
    return { status: 'SUCCEEDED', message: how, progress: 100, outputs };
  }

  private async emit(run: FollowedRun, update: ExecutorUpdate): Promise<void> {
    if (this.closed || this.runs.get(run.runId) !== run) return;
    try {
      await this.listener?.(run.runId, update);
    } catch {
      // The run service logs a storage failure; the next update goes on.
    }
  }

  /** Stops following the run and emits its last update (it no longer counts as active by then). */
  private async finish(run: FollowedRun, update: ExecutorUpdate): Promise<void> {
    if (this.closed || this.runs.get(run.runId) !== run) return;
    this.runs.delete(run.runId);
    run.stop.abort();
    try {
      await this.listener?.(run.runId, update);
    } catch {
      // The run service logs a storage failure.
    }
    if (this.draining && this.runs.size === 0) this.onIdle?.();
  }
}
