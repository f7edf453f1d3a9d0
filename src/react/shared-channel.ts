import {
  type PresenceEvent,
  type Publication,
  type RecoveryInfo,
  type StreamPosition,
  type Subscription,
  type WirehubClient,
  WirehubError,
} from '../client/browser.js';

/** Where a hook's channel subscription stands. */
export type ChannelStatus = 'subscribing' | 'subscribed' | 'error';

/** What one hook wants to hear from a shared channel subscription. */
export interface ChannelListener {
  publication?(publication: Publication): void;
  join?(event: PresenceEvent): void;
  leave?(event: PresenceEvent): void;
  recovery?(info: RecoveryInfo): void;
  status?(status: ChannelStatus, error: WirehubError | undefined): void;
}

/**
 * One client subscription per channel, shared by every hook on it. Why: a client may hold
 * one subscription per channel (a second is `already_subscribed`), while a page often has
 * several components on the same channel (a message list, a member list). The last hook
 * to leave unsubscribes, a moment later, so React's unmount-and-mount-again (StrictMode, a
 * key change) reuses the subscription instead of churning it.
 */
class SharedChannel {
  readonly listeners = new Set<ChannelListener>();
  status: ChannelStatus = 'subscribing';
  error: WirehubError | undefined;
  /** Resolves once this subscription is gone from the client (a new one may then start). */
  readonly gone: Promise<void>;
  private sub: Subscription | undefined;
  private leaving = false;
  private markGone!: () => void;

  constructor(
    client: WirehubClient,
    channel: string,
    since: StreamPosition | undefined,
    after: Promise<void>,
  ) {
    this.gone = new Promise((resolve) => {
      this.markGone = resolve;
    });
    const each = (call: (l: ChannelListener) => void) => {
      for (const listener of [...this.listeners]) call(listener);
    };
    after
      .then(() =>
        client.subscribe(channel, (pub) => each((l) => l.publication?.(pub)), {
          ...(since ? { since } : {}),
          onJoin: (e) => each((l) => l.join?.(e)),
          onLeave: (e) => each((l) => l.leave?.(e)),
          onRecovery: (info) => each((l) => l.recovery?.(info)),
          onError: (err) => this.setStatus('error', err),
        }),
      )
      .then(
        (sub) => {
          this.sub = sub;
          if (this.leaving) void this.unsubscribe();
          else this.setStatus('subscribed', undefined);
        },
        (err: unknown) => {
          this.setStatus(
            'error',
            err instanceof WirehubError ? err : new WirehubError('internal', String(err)),
          );
          this.markGone();
        },
      );
  }

  leave(): void {
    this.leaving = true;
    if (this.sub) void this.unsubscribe();
  }

  private async unsubscribe(): Promise<void> {
    await this.sub?.unsubscribe().catch(() => {});
    this.markGone();
  }

  private setStatus(status: ChannelStatus, error: WirehubError | undefined): void {
    this.status = status;
    this.error = error;
    for (const listener of [...this.listeners]) listener.status?.(status, error);
  }
}

const registry = new WeakMap<WirehubClient, Map<string, SharedChannel>>();
/** Channels whose last hook left; they go unless a hook comes back first. */
const leaving = new WeakMap<WirehubClient, Map<string, SharedChannel>>();

function mapOf(
  maps: WeakMap<WirehubClient, Map<string, SharedChannel>>,
  client: WirehubClient,
): Map<string, SharedChannel> {
  let map = maps.get(client);
  if (!map) {
    map = new Map();
    maps.set(client, map);
  }
  return map;
}

/**
 * Adds `listener` to the client's subscription to `channel` (subscribing if it is the first),
 * tells it the current status at once, and returns the function that takes it off again.
 */
export function joinChannel(
  client: WirehubClient,
  channel: string,
  listener: ChannelListener,
  since?: StreamPosition,
): () => void {
  const live = mapOf(registry, client);
  let shared = live.get(channel);
  if (!shared) {
    const previous = mapOf(leaving, client).get(channel);
    shared = new SharedChannel(client, channel, since, previous?.gone ?? Promise.resolve());
    live.set(channel, shared);
  }
  const joined = shared;
  joined.listeners.add(listener);
  listener.status?.(joined.status, joined.error);
  return () => {
    joined.listeners.delete(listener);
    if (joined.listeners.size > 0) return;
    setTimeout(() => {
      if (joined.listeners.size > 0 || live.get(channel) !== joined) return;
      live.delete(channel);
      const gone = mapOf(leaving, client);
      gone.set(channel, joined);
      void joined.gone.then(() => {
        if (gone.get(channel) === joined) gone.delete(channel);
      });
      joined.leave();
    }, 0);
  };
}
