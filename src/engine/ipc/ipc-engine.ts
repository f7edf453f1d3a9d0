import { StoreHealth } from '../store-health.js';
import type {
  Engine,
  EngineEvents,
  HistoryPolicy,
  HistoryQuery,
  HistoryResult,
  PresenceMember,
  Publication,
  PublicationHandler,
  PublishInput,
  StreamPosition,
} from '../types.js';
import { ENGINE_SERVICE, type EngineHello, type HealthSnapshot } from './engine-host.js';
import type { RpcPeer } from './rpc.js';

/**
 * A worker's engine under `--workers`: every call goes to the primary's {@link EngineHost},
 * which holds the one store; publications of the channels this worker subscribed to come
 * back as pushes, in the order the store committed them. The store's health is mirrored here
 * so each worker's `/readyz` tells the truth about it.
 *
 * @example
 * ```ts
 * const engine = new IpcEngine(new RpcPeer(processPort(process), primaryGone));
 * const hub = new Hub(engine, namespaces); // as with any engine
 * ```
 */
export class IpcEngine implements Engine {
  private hostKind = 'ipc';
  private mirrored: StoreHealth | undefined;

  constructor(private readonly peer: RpcPeer) {}

  /** The kind of the primary's engine (`sqlite`, `memory`). */
  get kind(): string {
    return this.hostKind;
  }

  get health(): StoreHealth | undefined {
    return this.mirrored;
  }

  async start(handler: PublicationHandler, events: EngineEvents = {}): Promise<void> {
    this.peer.onPush(ENGINE_SERVICE, (event, args) => {
      if (event === 'pub') handler(args[0] as Publication);
      else if (event === 'gap') events.gap?.(args[0] as string, args[1] as boolean);
      else if (event === 'health') this.mirror(args[0] as HealthSnapshot);
    });
    const hello = await this.call<EngineHello & { health: HealthSnapshot | undefined }>('hello');
    this.hostKind = hello.kind;
    if (hello.health) this.mirror(hello.health);
  }

  publish(input: PublishInput): Promise<Publication> {
    // A publication's data is JSON (every store keeps it so, every client gets it so): the
    // hot path crosses as JSON. Data JSON cannot carry fails here, as `invalid_message`.
    return this.peer.call<Publication>(ENGINE_SERVICE, 'publish', [input], 'json');
  }

  subscribe(channel: string): Promise<void> {
    return this.call('subscribe', channel);
  }

  unsubscribe(channel: string): Promise<void> {
    return this.call('unsubscribe', channel);
  }

  history(channel: string, query: HistoryQuery, policy: HistoryPolicy): Promise<HistoryResult> {
    return this.call('history', channel, query, policy);
  }

  position(channel: string): Promise<StreamPosition> {
    return this.call('position', channel);
  }

  presenceAdd(channel: string, member: PresenceMember, ttlMs?: number): Promise<void> {
    return ttlMs === undefined
      ? this.call('presenceAdd', channel, member)
      : this.call('presenceAdd', channel, member, ttlMs);
  }

  presenceRefresh(channel: string, clients: string[], ttlMs: number): Promise<void> {
    return this.call('presenceRefresh', channel, clients, ttlMs);
  }

  presenceRemove(channel: string, client: string): Promise<void> {
    return this.call('presenceRemove', channel, client);
  }

  presenceList(channel: string): Promise<PresenceMember[]> {
    return this.call('presenceList', channel);
  }

  presenceCount(channel: string): Promise<number> {
    return this.call('presenceCount', channel);
  }

  /** This worker stops using the engine (the primary keeps it for the others). */
  async close(): Promise<void> {
    this.peer.close();
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.peer.call<T>(ENGINE_SERVICE, method, args);
  }

  private mirror(snapshot: HealthSnapshot): void {
    this.mirrored ??= new StoreHealth('channels', 'channels.db');
    this.mirrored.adopt(snapshot);
  }
}
