// Only light modules and types here: the server imports this file whether or not Flyte is
// configured; the executor itself (Connect, the protocol definitions) loads in `start()`.
import { WirehubError } from '../../../protocol/index.js';
import type { Logger } from '../../../util/logger.js';
import type { RegisteredTask, TaskRef } from '../../registry.js';
import type { RemoteTaskCatalog } from '../../runs/run-service.js';
import type { ExternalRun, RunRecord } from '../../runs/types.js';
import type { ExecutionRequest, Executor, ExecutorListener } from '../executor.js';
import { type FlyteOptions, resolveFlyteConfig } from './config.js';
import type { FlyteBackend } from './index.js';

/**
 * The Flyte executor and task catalog, loaded on `start()` with a dynamic `import()`, so a
 * server without Flyte never loads Connect nor the Flyte protocol definitions. The options are
 * checked at once (a bad endpoint or API key stops the server from starting, with a
 * `FlyteConfigError` naming it).
 *
 * @example
 * ```ts
 * const flyte = new LazyFlyte({ endpoint: 'http://localhost:8090' }, log);
 * const executor = new RoutedExecutor(local, [flyte]);
 * const runs = new RunService({ registry, executor, remoteTasks: flyte, store, hub });
 * ```
 */
export class LazyFlyte implements Executor, RemoteTaskCatalog {
  readonly kind = 'flyte';
  private backend: FlyteBackend | undefined;
  private closed = false;

  constructor(
    private readonly options: FlyteOptions,
    private readonly log?: Logger,
  ) {
    resolveFlyteConfig(options);
  }

  private get loaded(): FlyteBackend {
    if (!this.backend) throw new WirehubError('not_ready', 'the Flyte executor is not started');
    return this.backend;
  }

  get active(): number {
    return this.backend?.executor.active ?? 0;
  }

  async start(listener: ExecutorListener): Promise<void> {
    const { createFlyteBackend } = await import('./index.js');
    this.backend = createFlyteBackend(this.options, this.log);
    await this.backend.executor.start(listener);
  }

  resolve(ref: TaskRef): Promise<RegisteredTask | undefined> {
    return this.loaded.tasks.resolve(ref);
  }

  submit(request: ExecutionRequest): Promise<void> {
    return this.loaded.executor.submit(request);
  }

  externalRun(runId: string, task: RegisteredTask): ExternalRun {
    return this.loaded.executor.externalRun(runId, task);
  }

  async cancel(runId: string): Promise<boolean> {
    return this.backend ? this.backend.executor.cancel(runId) : false;
  }

  orphaned<R extends RunRecord>(runs: R[]): Promise<R[]> {
    return this.loaded.executor.orphaned(runs);
  }

  async drain(timeoutMs: number): Promise<void> {
    await this.backend?.executor.drain(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend?.executor.close();
  }
}
