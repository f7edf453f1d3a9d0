import type { RpcPeer, Service } from '../../engine/ipc/rpc.js';
import { WirehubError } from '../../protocol/index.js';
import type { RegisteredTask, TaskRef } from '../registry.js';
import type { ExecutionRequest, Executor, ExecutorListener } from './executor.js';

/** The service name executor calls use on a port. */
export const EXECUTOR_SERVICE = 'executor';

/** A run as it crosses to the primary: its task by reference (the primary has the same tasks). */
interface SentRequest {
  runId: string;
  task: TaskRef;
  inputs: unknown;
  attempt: number;
}

/**
 * The primary's side of the executor under `--workers`: the one executor of the server
 * (worker threads), which the primary's own run service listens to. Workers hand it runs
 * they stored; every update of every run is stored and published by the primary, so a
 * worker that dies takes no run with it, and a run ends exactly once.
 *
 * @example
 * ```ts
 * const host = new ExecutorHost(executor, (ref) => runs.resolveTask(ref));
 * host.attach(peer);
 * ```
 */
export class ExecutorHost {
  constructor(
    readonly executor: Executor,
    private readonly resolve: (ref: TaskRef) => Promise<RegisteredTask | undefined>,
  ) {}

  /** Serves the executor to one worker over `peer`. */
  attach(peer: RpcPeer): void {
    const executor = this.executor;
    const service: Service = {
      hello: () => ({ kind: executor.kind }),
      submit: async (request: SentRequest) => {
        const task = await this.resolve(request.task);
        if (!task) {
          throw new WirehubError('unknown_task', `the primary has no task ${request.task.name}`);
        }
        await executor.submit({
          runId: request.runId,
          task,
          inputs: request.inputs,
          attempt: request.attempt,
        });
        return executor.active;
      },
      cancel: (runId: string) => executor.cancel(runId),
      active: () => executor.active,
    };
    peer.serve(EXECUTOR_SERVICE, service);
  }
}

/**
 * A worker's executor under `--workers`: runs go to the primary's {@link ExecutorHost}, which
 * runs them and applies their updates itself (the worker's run service hears them on the run
 * channel, as any node does). So `start` takes no listener, and `drain` and `close` leave the
 * runs to the primary.
 *
 * @example
 * ```ts
 * const runs = new RunService({ executor: new IpcExecutor(peer), store: new IpcRunStore(peer), recover: false, … });
 * ```
 */
export class IpcExecutor implements Executor {
  private hostKind = 'ipc';
  private lastActive = 0;

  constructor(private readonly peer: RpcPeer) {}

  get kind(): string {
    return this.hostKind;
  }

  /** Runs in progress in the server, as the primary last said. */
  get active(): number {
    return this.lastActive;
  }

  async start(_listener: ExecutorListener): Promise<void> {
    const hello = await this.call<{ kind: string }>('hello');
    this.hostKind = hello.kind;
  }

  async submit(request: ExecutionRequest): Promise<void> {
    const d = request.task.definition;
    const sent: SentRequest = {
      runId: request.runId,
      task: { project: d.project, domain: d.domain, name: d.name, version: d.version },
      inputs: request.inputs,
      attempt: request.attempt,
    };
    this.lastActive = await this.call<number>('submit', sent);
  }

  cancel(runId: string): Promise<boolean> {
    return this.call('cancel', runId);
  }

  /** The runs are the primary's: it drains them when the whole server stops. */
  async drain(_timeoutMs: number): Promise<void> {}

  async close(): Promise<void> {}

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.peer.call<T>(EXECUTOR_SERVICE, method, args);
  }
}
