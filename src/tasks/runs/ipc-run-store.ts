import type { HealthSnapshot } from '../../engine/ipc/engine-host.js';
import type { RpcPeer, Service } from '../../engine/ipc/rpc.js';
import { StoreHealth } from '../../engine/store-health.js';
import type { ApplyResult, NewRun, RunChange, RunListQuery, RunStore } from './run-store.js';
import type { RunRecord, RunUpdate } from './types.js';

/** The service name run store calls and pushes use on a port. */
export const RUN_STORE_SERVICE = 'runs';

function snapshot(store: RunStore): HealthSnapshot | undefined {
  const h = store.health;
  return h ? { problem: h.problem, damaged: h.damaged, errors: h.errors } : undefined;
}

/**
 * The primary's side of the run store under `--workers`: the one SQLite run store (one
 * writer: every atomic check of `apply` happens in one process) served to every worker.
 * Its health is pushed to the workers when it changes, so each worker's `/readyz` is true.
 *
 * @example
 * ```ts
 * const host = new RunStoreHost(new SqliteRunStore('runs.db'));
 * await host.start();
 * host.attach(new RpcPeer(processPort(cluster.fork()), () => new Error('worker gone')));
 * ```
 */
export class RunStoreHost {
  private readonly peers = new Set<RpcPeer>();
  private lastHealth = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly store: RunStore) {}

  async start(): Promise<void> {
    await this.store.open();
    this.timer = setInterval(() => this.pushHealthIfChanged(), 1_000);
    this.timer.unref();
  }

  /** Serves the store to one worker over `peer`, until the peer closes. */
  attach(peer: RpcPeer): void {
    const s = this.store;
    this.peers.add(peer);
    peer.onClose(() => this.peers.delete(peer));
    const service: Service = {
      hello: () => ({ kind: s.kind, health: snapshot(s) }),
      createRun: (run: NewRun, message: string, now?: number) => s.createRun(run, message, now),
      deleteRun: (runId: string) => s.deleteRun(runId),
      apply: (runId: string, change: RunChange, now?: number) => s.apply(runId, change, now),
      getRun: (runId: string) => s.getRun(runId),
      updates: (runId: string, afterSeq?: number, limit?: number) => s.updates(runId, afterSeq, limit),
      list: (query: RunListQuery) => s.list(query),
      listActive: () => s.listActive(),
      countActive: (key: string) => s.countActive(key),
      prune: (now?: number) => s.prune(now),
    };
    peer.serve(RUN_STORE_SERVICE, service);
  }

  /** Closes the store (after the workers stopped). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.store.close();
  }

  private pushHealthIfChanged(): void {
    const now = snapshot(this.store);
    if (!now) return;
    const key = `${now.problem ?? ''}|${now.errors}`;
    if (key === this.lastHealth) return;
    this.lastHealth = key;
    for (const peer of this.peers) peer.push(RUN_STORE_SERVICE, 'health', [now]);
  }
}

/**
 * A worker's run store under `--workers`: every call goes to the primary's
 * {@link RunStoreHost}. Closing it leaves the primary's store open for the other workers.
 *
 * @example
 * ```ts
 * const store = new IpcRunStore(peer);
 * await store.open();
 * await store.getRun('r-…');
 * ```
 */
export class IpcRunStore implements RunStore {
  private hostKind = 'ipc';
  private mirrored: StoreHealth | undefined;
  private opened: Promise<void> | undefined;

  constructor(private readonly peer: RpcPeer) {}

  get kind(): string {
    return this.hostKind;
  }

  get health(): StoreHealth | undefined {
    return this.mirrored;
  }

  open(): Promise<void> {
    this.opened ??= this.hello();
    return this.opened;
  }

  createRun(run: NewRun, message: string, now?: number): Promise<RunUpdate> {
    return this.call('createRun', run, message, now);
  }

  deleteRun(runId: string): Promise<void> {
    return this.call('deleteRun', runId);
  }

  apply(runId: string, change: RunChange, now?: number): Promise<ApplyResult> {
    return this.call('apply', runId, change, now);
  }

  getRun(runId: string): Promise<RunRecord | undefined> {
    return this.call('getRun', runId);
  }

  updates(runId: string, afterSeq?: number, limit?: number): Promise<RunUpdate[]> {
    return this.call('updates', runId, afterSeq, limit);
  }

  list(query: RunListQuery): Promise<RunRecord[]> {
    return this.call('list', query);
  }

  listActive(): Promise<RunRecord[]> {
    return this.call('listActive');
  }

  countActive(quotaKey: string): Promise<number> {
    return this.call('countActive', quotaKey);
  }

  prune(now?: number): Promise<number> {
    return this.call('prune', now);
  }

  /** Nothing to close here: the primary owns the store. */
  async close(): Promise<void> {}

  private async hello(): Promise<void> {
    this.peer.onPush(RUN_STORE_SERVICE, (event, args) => {
      if (event === 'health') this.mirror(args[0] as HealthSnapshot);
    });
    const hello = await this.call<{ kind: string; health: HealthSnapshot | undefined }>('hello');
    this.hostKind = hello.kind;
    if (hello.health) this.mirror(hello.health);
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.peer.call<T>(RUN_STORE_SERVICE, method, args);
  }

  private mirror(state: HealthSnapshot): void {
    this.mirrored ??= new StoreHealth('runs', 'runs.db');
    this.mirrored.adopt(state);
  }
}
