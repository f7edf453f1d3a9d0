import type { RegisteredTask } from '../registry.js';
import type { ExternalRun, RunRecord } from '../runs/types.js';
import type { ExecutionRequest, Executor, ExecutorListener } from './executor.js';

/**
 * One executor made of this server's own (embedded or BullMQ) and remote ones (Flyte): a run
 * goes to the executor its task names (`RegisteredTask.executor`), the rest to the local one.
 * After a restart, each unfinished run goes back to the executor that has it (its stored
 * `external.executor`), so a Flyte run is re-attached and a local one re-queued as before.
 *
 * @example
 * ```ts
 * const executor = new RoutedExecutor(new EmbeddedExecutor(), [flyteExecutor]);
 * ```
 */
export class RoutedExecutor implements Executor {
  readonly kind: string;
  private readonly remotes: Map<string, Executor>;

  constructor(
    private readonly local: Executor,
    remotes: Executor[],
  ) {
    this.remotes = new Map(remotes.map((e) => [e.kind, e]));
    this.kind = [local.kind, ...this.remotes.keys()].join('+');
  }

  private all(): Executor[] {
    return [this.local, ...this.remotes.values()];
  }

  private forTask(task: RegisteredTask): Executor {
    return (task.executor !== undefined && this.remotes.get(task.executor)) || this.local;
  }

  get active(): number {
    return this.all().reduce((n, e) => n + e.active, 0);
  }

  async start(listener: ExecutorListener): Promise<void> {
    for (const e of this.all()) await e.start(listener);
  }

  submit(request: ExecutionRequest): Promise<void> {
    return this.forTask(request.task).submit(request);
  }

  externalRun(runId: string, task: RegisteredTask): ExternalRun | undefined {
    const executor = this.forTask(task);
    return executor === this.local ? undefined : executor.externalRun?.(runId, task);
  }

  async cancel(runId: string): Promise<boolean> {
    // Only the executor that holds a run knows it: ask each until one does.
    for (const e of this.all()) if (await e.cancel(runId)) return true;
    return false;
  }

  async orphaned<R extends RunRecord>(runs: R[]): Promise<R[]> {
    const out: R[] = [];
    for (const [executor, list] of this.byOwner(runs)) {
      out.push(...(executor.orphaned ? await executor.orphaned(list) : list));
    }
    return out;
  }

  /** Only executors that can tell a lost attempt answer; the others' runs are not lost. */
  async lost<R extends RunRecord>(runs: R[]): Promise<R[]> {
    const out: R[] = [];
    for (const [executor, list] of this.byOwner(runs))
      if (executor.lost) out.push(...(await executor.lost(list)));
    return out;
  }

  private byOwner<R extends RunRecord>(runs: R[]): Map<Executor, R[]> {
    const byExecutor = new Map<Executor, R[]>();
    for (const run of runs) {
      const owner = (run.external && this.remotes.get(run.external.executor)) || this.local;
      byExecutor.set(owner, [...(byExecutor.get(owner) ?? []), run]);
    }
    return byExecutor;
  }

  async drain(timeoutMs: number): Promise<void> {
    await Promise.all(this.all().map((e) => e.drain(timeoutMs)));
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((e) => e.close()));
  }
}
