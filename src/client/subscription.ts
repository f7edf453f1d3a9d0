import type { WirehubError } from '../protocol/errors.js';
import { type Guard, unknown } from '../protocol/guard.js';
import type {
  RtJoinPush,
  RtLeavePush,
  RtMessagePush,
  RtPublication,
  RtSubscribeResult,
} from '../protocol/rt.js';
import { subscribeResultGuard } from '../protocol/rt-guards.js';
import { callSafely } from './emitter.js';

/** A position in a channel's stream: the epoch and the offset of a publication. */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** A publication as a subscriber gets it; `T` is what the app expects in `data` (not checked). */
export type Publication<T = unknown> = Omit<RtPublication, 'data'> & { data: T };

/** Someone joined or left a channel (namespaces with join/leave pushes, e.g. `chat:*`). */
export type PresenceEvent = Omit<RtJoinPush, 'op'>;

/**
 * What happened to the publications a subscription may have missed: after every reconnect,
 * and after a first subscribe that passed `since`.
 */
export interface RecoveryInfo {
  channel: string;
  /**
   * True: the `replayed` publications were exactly the missed ones (already handed to the
   * handler, in order). False: the server could not fill the gap (history trimmed, another
   * epoch, too many missed, or a channel without history): reload what you show, e.g. with
   * `history()` from `since`.
   */
  recovered: boolean;
  /** Publications replayed to the handler. */
  replayed: number;
  /** The position asked from (absent on channels without history). */
  since?: StreamPosition;
  /** The channel's position after the subscribe (absent on channels without history). */
  position?: StreamPosition;
}

export interface SubscribeOptions {
  /** Start after this position: the server replays what came after it (`recovered` says if it could). */
  since?: StreamPosition;
  /** Someone joined the channel (namespaces with join/leave pushes). */
  onJoin?: (event: PresenceEvent) => void;
  /** Someone left the channel. */
  onLeave?: (event: PresenceEvent) => void;
  /** After each resubscribe (and a first subscribe with `since`): were missed publications recovered? */
  onRecovery?: (info: RecoveryInfo) => void;
  /** The server refused a resubscribe after a reconnect: the subscription has ended. */
  onError?: (error: WirehubError) => void;
}

export type SubscriptionState = 'pending' | 'subscribing' | 'subscribed' | 'closing' | 'closed';

/** What a command sent on the current connection calls back with (synchronously, in frame order). */
export interface SendCallbacks<R> {
  ok(result: R): void;
  fail(error: WirehubError): void;
}

/** What a subscription needs from its client. @internal */
export interface SubscriptionHost {
  connected(): boolean;
  send<R>(command: Record<string, unknown>, guard: Guard<R>, callbacks: SendCallbacks<R>): void;
  forget(subscription: Subscription<never>): void;
  reportRecovery(info: RecoveryInfo): void;
  reportError(error: WirehubError): void;
}

const emptyResult = unknown;

/**
 * Refusals of a resubscribe that say "not now" rather than "never": the node cannot reach
 * Redis, is draining, full, rate-limiting or failed. The subscription tries again (with
 * backoff) instead of ending; other refusals (forbidden, …) end it.
 */
const TRY_AGAIN: ReadonlySet<string> = new Set([
  'broker_unavailable',
  'not_ready',
  'node_full',
  'rate_limited',
  'internal',
]);

/** Delay before retry `n` (1, 2, …) of a refused resubscribe: 100 ms doubling to 5 s. */
const retryDelayMs = (n: number): number => Math.min(5_000, 100 * 2 ** (n - 1));

/**
 * One channel subscription of a {@link WirehubClient}. It outlives connections: after every
 * reconnect it subscribes again with `since` = the last position it handed to the handler,
 * so publications missed meanwhile are replayed in order, without duplicates, or
 * `onRecovery` says `recovered: false`.
 *
 * @example
 * ```ts
 * const sub = await client.subscribe<string>('chat:lobby', (pub) => show(pub.data), {
 *   onRecovery: ({ recovered }) => { if (!recovered) reloadRecent(); },
 * });
 * console.log(sub.position); // { epoch: 'e-…', offset: 41 }
 * await sub.unsubscribe();
 * ```
 */
export class Subscription<T = unknown> {
  private current: SubscriptionState = 'pending';
  private pos: StreamPosition | undefined;
  private subscribedBefore = false;
  private first: { resolve(sub: Subscription<T>): void; reject(err: WirehubError): void } | undefined;
  private inFlight: Promise<void> | undefined;
  private markLanded: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  /** Refused resubscribes in a row, and the timer of the next try. */
  private refusals = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** @internal Made by `WirehubClient.subscribe`. */
  constructor(
    private readonly host: SubscriptionHost,
    readonly channel: string,
    private readonly handler: (publication: Publication<T>) => void,
    private readonly options: SubscribeOptions,
    first: { resolve(sub: Subscription<T>): void; reject(err: WirehubError): void },
  ) {
    this.first = first;
    this.pos = options.since ? { ...options.since } : undefined;
  }

  /** The position of the last publication handed to the handler (or of the subscribe). */
  get position(): StreamPosition | undefined {
    return this.pos ? { ...this.pos } : undefined;
  }

  get state(): SubscriptionState {
    return this.current;
  }

  /**
   * Leaves the channel. Resolves once the server has let go (at once when disconnected:
   * the server forgot the subscription with the connection).
   */
  unsubscribe(): Promise<void> {
    this.closing ??= this.runUnsubscribe();
    return this.closing;
  }

  /** Resolves once this subscription is fully gone (lets a new one on the same channel wait). */
  get closed(): Promise<void> {
    return this.closing ?? Promise.resolve();
  }

  /** @internal The client has a connection: subscribe on it. */
  attach(): void {
    if (this.current !== 'pending') return;
    this.current = 'subscribing';
    const since = this.pos;
    const command: Record<string, unknown> = { op: 'subscribe', channel: this.channel };
    if (since) command.since = since;
    this.inFlight = new Promise<void>((resolve) => {
      this.markLanded = resolve;
    });
    this.host.send(command, subscribeResultGuard, {
      ok: (result) => {
        this.landed();
        this.onSubscribed(result, since);
      },
      fail: (err) => {
        this.landed();
        if (this.current !== 'subscribing') return;
        // A dropped connection is not the subscription's fault: it waits for the next one.
        if (err.code === 'disconnected') this.current = 'pending';
        // A renewal refused for now (e.g. this node lost Redis): try again on this connection.
        else if (this.subscribedBefore && TRY_AGAIN.has(err.code)) this.retryLater();
        else this.fail(err);
      },
    });
  }

  /** @internal The connection dropped: wait for the next one. */
  detach(): void {
    if (this.current === 'subscribed' || this.current === 'subscribing') this.current = 'pending';
  }

  /**
   * Waits, then renews on the current connection (a new connection renews every pending
   * subscription anyway, so the timer does nothing then).
   */
  private retryLater(): void {
    this.current = 'pending';
    this.refusals += 1;
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.host.connected()) this.attach();
    }, retryDelayMs(this.refusals));
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** @internal A `message` push for this channel. */
  deliver(push: RtMessagePush): void {
    if (this.current !== 'subscribed') return;
    this.take(push);
  }

  /** @internal A `join`/`leave` push for this channel. */
  presence(push: RtJoinPush | RtLeavePush): void {
    if (this.current !== 'subscribed') return;
    const event: PresenceEvent = { channel: push.channel, client: push.client };
    if (push.user !== undefined) event.user = push.user;
    callSafely(push.op === 'join' ? this.options.onJoin : this.options.onLeave, event);
  }

  /** @internal The client stopped for good. */
  end(err: WirehubError): void {
    if (this.current === 'closed') return;
    this.clearRetry();
    this.current = 'closed';
    this.landed();
    this.rejectFirst(err);
  }

  private onSubscribed(result: RtSubscribeResult, since: StreamPosition | undefined): void {
    if (this.current === 'closing') {
      // Unsubscribed while the subscribe was on its way: undo it on the server.
      this.host.send({ op: 'unsubscribe', channel: this.channel }, emptyResult, { ok() {}, fail() {} });
      return;
    }
    if (this.current !== 'subscribing') return;
    this.current = 'subscribed';
    this.refusals = 0;
    for (const publication of result.publications) this.take(publication);
    if (result.epoch !== undefined && result.offset !== undefined) {
      this.pos = { epoch: result.epoch, offset: result.offset };
    }
    const resubscribed = this.subscribedBefore;
    this.subscribedBefore = true;
    if (since || resubscribed) {
      const info: RecoveryInfo = {
        channel: this.channel,
        recovered: result.recovered === true,
        replayed: result.publications.length,
      };
      if (since) info.since = since;
      if (this.pos) info.position = { ...this.pos };
      callSafely(this.options.onRecovery, info);
      this.host.reportRecovery(info);
    }
    if (this.first) {
      const { resolve } = this.first;
      this.first = undefined;
      resolve(this);
    }
  }

  /** Hands a publication to the handler once: skips what is at or before the position. */
  private take(publication: RtPublication): void {
    const { epoch, offset } = publication;
    if (epoch !== undefined && offset !== undefined) {
      if (this.pos && this.pos.epoch === epoch && offset <= this.pos.offset) return;
      this.pos = { epoch, offset };
    }
    callSafely(this.handler, publication as Publication<T>);
  }

  /** The server dropped this subscription (a refreshed token no longer grants it). */
  revoke(err: WirehubError): void {
    if (this.current !== 'closed') this.fail(err);
  }

  private fail(err: WirehubError): void {
    this.clearRetry();
    this.current = 'closed';
    this.host.forget(this as unknown as Subscription<never>);
    if (this.first) {
      this.rejectFirst(err);
      return;
    }
    callSafely(this.options.onError, err);
    this.host.reportError(err);
  }

  private rejectFirst(err: WirehubError): void {
    if (!this.first) return;
    const { reject } = this.first;
    this.first = undefined;
    reject(err);
  }

  private landed(): void {
    this.markLanded?.();
    this.markLanded = undefined;
  }

  private async runUnsubscribe(): Promise<void> {
    if (this.current === 'closed') return;
    this.clearRetry();
    const wasSubscribing = this.current === 'subscribing';
    const wasSubscribed = this.current === 'subscribed';
    this.current = 'closing';
    // A subscribe on its way is undone when its reply lands (see onSubscribed).
    if (wasSubscribing) await this.inFlight;
    else if (wasSubscribed && this.host.connected()) {
      await new Promise<void>((resolve) => {
        // Not subscribed (any more) or disconnected: either way the server holds nothing.
        this.host.send({ op: 'unsubscribe', channel: this.channel }, emptyResult, {
          ok: () => resolve(),
          fail: () => resolve(),
        });
      });
    }
    this.current = 'closed';
    this.host.forget(this as unknown as Subscription<never>);
  }
}
