import type { LimitStore, RateDecision, RateRule } from '../limits.js';
import type { RpcPeer, Service } from './rpc.js';

/** The service name limit store calls use on a port. */
export const LIMITS_SERVICE = 'limits';

/**
 * The primary's side of the limit store under `--workers`: one set of per-IP rate buckets
 * and connection counters for the whole server, whichever worker an upgrade lands on (only
 * upgrades ask, never messages). What a worker acquired is released when it dies.
 *
 * @example
 * ```ts
 * const host = new LimitStoreHost(new MemoryLimitStore());
 * host.attach(peer);
 * ```
 */
export class LimitStoreHost {
  constructor(readonly store: LimitStore) {}

  /** Serves the store to one worker over `peer`, until the peer closes. */
  attach(peer: RpcPeer): void {
    const store = this.store;
    /** key → what this worker holds of it. */
    const held = new Map<string, number>();
    const service: Service = {
      take: (key: string, rule: RateRule) => store.take(key, rule),
      acquire: async (key: string, max: number) => {
        const ok = await store.acquire(key, max);
        if (ok) held.set(key, (held.get(key) ?? 0) + 1);
        return ok;
      },
      release: async (key: string) => {
        const n = held.get(key) ?? 0;
        if (n === 0) return;
        if (n === 1) held.delete(key);
        else held.set(key, n - 1);
        await store.release(key);
      },
      held: (key: string) => store.held(key),
    };
    peer.serve(LIMITS_SERVICE, service);
    peer.onClose(() => {
      for (const [key, n] of held) for (let i = 0; i < n; i += 1) void store.release(key);
      held.clear();
    });
  }
}

/**
 * A worker's limit store under `--workers`: each call goes to the primary's
 * {@link LimitStoreHost}, so per-IP limits hold for the whole server.
 *
 * @example
 * ```ts
 * const limits = new IpcLimitStore(peer);
 * await limits.acquire('conns:ip:10.0.0.7', 100);
 * ```
 */
export class IpcLimitStore implements LimitStore {
  constructor(private readonly peer: RpcPeer) {}

  take(key: string, rule: RateRule): Promise<RateDecision> {
    return this.peer.call(LIMITS_SERVICE, 'take', [key, rule]);
  }

  acquire(key: string, max: number): Promise<boolean> {
    return this.peer.call(LIMITS_SERVICE, 'acquire', [key, max]);
  }

  async release(key: string): Promise<void> {
    // A primary that is gone holds nothing any more.
    await this.peer.call(LIMITS_SERVICE, 'release', [key]).catch(() => {});
  }

  held(key: string): Promise<number> {
    return this.peer.call(LIMITS_SERVICE, 'held', [key]);
  }
}
