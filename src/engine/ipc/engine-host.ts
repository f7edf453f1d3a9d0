import type { Logger } from '../../util/logger.js';
import type { Engine, PresenceMember, Publication, PublishInput } from '../types.js';
import { RpcPeer, type Service } from './rpc.js';

/** The service name engine calls and pushes use on a port. */
export const ENGINE_SERVICE = 'engine';

/** What a worker learns of the engine when it starts. */
export interface EngineHello {
  kind: string;
}

/** A store health as it crosses to the workers (see StoreHealth). */
export interface HealthSnapshot {
  problem: string | undefined;
  damaged: boolean;
  errors: number;
}

/** One attached worker: its channels and the presence entries it added. */
interface Attached {
  readonly peer: RpcPeer;
  readonly channels: Set<string>;
  /** channel → clients this worker added as members (removed when the worker dies). */
  readonly members: Map<string, Set<string>>;
}

/**
 * The primary's side of `--workers`: one engine (the embedded store: one writer, one group
 * commit, one place that assigns offsets) shared by every worker process over IPC. Each
 * publication crosses to a worker once if the worker has subscribers on its channel, never
 * once per subscriber: O(workers) per publication. A worker that dies loses its
 * subscriptions, and the presence entries it added are removed at once (not left to expire).
 *
 * @example
 * ```ts
 * const host = new EngineHost(new SqliteEngine({ file: 'channels.db' }));
 * await host.start();
 * host.attach(new RpcPeer(processPort(cluster.fork()), () => new Error('worker gone')));
 * ```
 */
export class EngineHost {
  private readonly workers = new Set<Attached>();
  /** channel → workers subscribed to it. */
  private readonly byChannel = new Map<string, Set<Attached>>();
  private lastHealth: string | undefined;
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly engine: Engine,
    private readonly log?: Logger,
  ) {}

  async start(): Promise<void> {
    await this.engine.start((pub) => this.forward(pub), {
      gap: (channel, recovered) => {
        for (const worker of this.byChannel.get(channel) ?? [])
          worker.peer.push(ENGINE_SERVICE, 'gap', [channel, recovered]);
      },
    });
    // A failing store probes itself back to health without any call: look once a second.
    this.healthTimer = setInterval(() => this.pushHealthIfChanged(), 1_000);
    this.healthTimer.unref();
  }

  /** Serves the engine to one worker over `peer`, until the peer closes. */
  attach(peer: RpcPeer): void {
    const worker: Attached = { peer, channels: new Set(), members: new Map() };
    this.workers.add(worker);
    const engine = this.engine;
    const service: Service = {
      hello: (): EngineHello & { health: HealthSnapshot | undefined } => ({
        kind: engine.kind,
        health: this.snapshot(),
      }),
      publish: (input: PublishInput) => this.tracked(engine.publish(input)),
      subscribe: (channel: string) => this.subscribe(worker, channel),
      unsubscribe: (channel: string) => this.unsubscribe(worker, channel),
      history: (...args: Parameters<Engine['history']>) => this.tracked(engine.history(...args)),
      position: (channel: string) => this.tracked(engine.position(channel)),
      presenceAdd: async (channel: string, member: PresenceMember, ttlMs?: number) => {
        await engine.presenceAdd(channel, member, ttlMs);
        const clients = worker.members.get(channel) ?? new Set<string>();
        worker.members.set(channel, clients);
        clients.add(member.client);
      },
      presenceRefresh: (channel: string, clients: string[], ttlMs: number) =>
        engine.presenceRefresh(channel, clients, ttlMs),
      presenceRemove: async (channel: string, client: string) => {
        await engine.presenceRemove(channel, client);
        const clients = worker.members.get(channel);
        clients?.delete(client);
        if (clients?.size === 0) worker.members.delete(channel);
      },
      presenceList: (channel: string) => engine.presenceList(channel),
      presenceCount: (channel: string) => engine.presenceCount(channel),
    };
    peer.serve(ENGINE_SERVICE, service);
    // The port closing means the worker process is gone: what it held goes with it.
    peer.onClose(() => void this.detach(worker));
  }

  /** Closes the engine (after the workers stopped). */
  async close(): Promise<void> {
    clearInterval(this.healthTimer);
    await this.engine.close();
  }

  private forward(pub: Publication): void {
    const workers = this.byChannel.get(pub.channel);
    if (!workers) return;
    // Encoded once for all the workers it goes to, as JSON (a publication is JSON).
    const push = RpcPeer.encodePush(ENGINE_SERVICE, 'pub', [pub], 'json');
    for (const worker of workers) {
      if (!worker.peer.pushEncoded(push) && worker.peer.open) {
        this.log?.error({ channel: pub.channel }, 'a publication could not be sent to a worker');
      }
    }
  }

  private async subscribe(worker: Attached, channel: string): Promise<void> {
    if (worker.channels.has(channel)) return;
    worker.channels.add(channel);
    const workers = this.byChannel.get(channel) ?? new Set<Attached>();
    this.byChannel.set(channel, workers);
    workers.add(worker);
    // Engines apply subscribe/unsubscribe in call order, so the first and last worker decide.
    if (workers.size === 1) await this.engine.subscribe(channel);
  }

  private async unsubscribe(worker: Attached, channel: string): Promise<void> {
    if (!worker.channels.delete(channel)) return;
    const workers = this.byChannel.get(channel);
    workers?.delete(worker);
    if (workers?.size === 0) {
      this.byChannel.delete(channel);
      await this.engine.unsubscribe(channel);
    }
  }

  private async detach(worker: Attached): Promise<void> {
    if (!this.workers.delete(worker)) return;
    for (const channel of [...worker.channels]) await this.unsubscribe(worker, channel).catch(() => {});
    for (const [channel, clients] of worker.members) {
      for (const client of clients) {
        await this.engine.presenceRemove(channel, client).catch((err: unknown) => {
          // It expires with its TTL instead.
          this.log?.warn({ err, channel, client }, 'removing a dead worker’s presence entry failed');
        });
      }
    }
    worker.members.clear();
  }

  /** Runs a store call and tells the workers when the store's health changed with it. */
  private async tracked<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } finally {
      this.pushHealthIfChanged();
    }
  }

  private snapshot(): HealthSnapshot | undefined {
    const health = this.engine.health;
    if (!health) return undefined;
    return { problem: health.problem, damaged: health.damaged, errors: health.errors };
  }

  private pushHealthIfChanged(): void {
    const now = this.snapshot();
    if (!now) return;
    const key = `${now.problem ?? ''}|${now.errors}`;
    if (key === this.lastHealth) return;
    this.lastHealth = key;
    for (const worker of this.workers) worker.peer.push(ENGINE_SERVICE, 'health', [now]);
  }
}
