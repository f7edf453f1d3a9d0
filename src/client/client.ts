import { isChannelName } from '../protocol/channels.js';
import { WirehubError } from '../protocol/errors.js';
import { unknown } from '../protocol/guard.js';
import type {
  RtCancelResult,
  RtHistoryResult,
  RtPresenceResult,
  RtPublishResult,
  RtRefreshResult,
} from '../protocol/rt.js';
import {
  cancelResultGuard,
  historyResultGuard,
  presenceResultGuard,
  publishResultGuard,
  refreshResultGuard,
  runResultGuard,
} from '../protocol/rt-guards.js';
import {
  type ClientEvents,
  Connection,
  type ConnectionHost,
  type ConnectionState,
  type RtPush,
  type WirehubClientOptions,
} from './connection.js';
import { Emitter, type Off } from './emitter.js';
import { RunHandle, type RunHost, type RunRequest } from './run-handle.js';
import {
  type Publication,
  type StreamPosition,
  type SubscribeOptions,
  Subscription,
  type SubscriptionHost,
} from './subscription.js';

export type { ClientEvents, ConnectionState, TokenSource, WirehubClientOptions } from './connection.js';

/** Someone in a channel, from `presence()`. */
export type PresenceMember = RtPresenceResult['members'][number];

const anything = unknown;

/**
 * The wirehub client for `/rt` (subprotocol `wirehub.v1`), for browsers and Node. One
 * WebSocket carries every channel; it reconnects by itself (exponential backoff with
 * jitter, not after 4001/4003/1008 and the like), renews every subscription with `since`
 * so nothing is missed, and follows task runs across reconnects. Every command returns a
 * Promise settled by its reply, or rejected with a {@link WirehubError} whose `code` comes
 * from the error catalog.
 *
 * @example
 * ```ts
 * import { WirehubClient } from 'wirehub/client';
 * import { WebSocket } from 'ws'; // Node 20 only; browsers have a global WebSocket
 *
 * const client = new WirehubClient({ url: 'ws://127.0.0.1:8080', WebSocket });
 * await client.connect();
 * await client.subscribe<string>('chat:lobby', (pub) => console.log(pub.from?.client, pub.data), {
 *   onJoin: (who) => console.log('joined', who.client),
 *   onRecovery: ({ recovered }) => { if (!recovered) console.log('missed some; reload'); },
 * });
 * await client.publish('chat:lobby', 'hello');
 * const run = await client.runTask({ project: 'demo', domain: 'development', task: 'countdown', version: 'v1', inputs: { n: 3 } });
 * for await (const update of run) console.log(update.status, update.message);
 * await client.close();
 * ```
 */
export class WirehubClient {
  private readonly events = new Emitter<ClientEvents>();
  private readonly subs = new Map<string, Subscription<unknown>>();
  private readonly runs = new Map<string, RunHandle>();
  /** The socket, reconnects, heartbeats and commands; it hands pushes back here. */
  private readonly connection: Connection;

  constructor(options: WirehubClientOptions = {}) {
    this.connection = new Connection(options, this.events, this.connectionHost);
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.connection.state;
  }

  get isConnected(): boolean {
    return this.connection.state === 'connected';
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): Off {
    return this.events.on(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: (value: ClientEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /**
   * Starts connecting (and reconnecting whenever the connection drops). Resolves once
   * connected; rejects if the client stops for good first (e.g. the server refuses the
   * token with 4001). The first command or subscription starts it too; commands made while
   * not connected wait for the connection (up to `commandTimeoutMs`).
   */
  connect(): Promise<void> {
    return this.connection.connect();
  }

  /**
   * Stops for good: closes the connection (1000), ends every subscription and run handle,
   * and rejects waiting commands with `client_closed`. Resolves once the socket is closed.
   */
  close(): Promise<void> {
    return this.connection.close();
  }

  /**
   * Subscribes to a channel. `handler` gets each publication once, in order: live ones,
   * and after a reconnect the ones missed meanwhile (the subscription renews itself with
   * `since` = the last position it handled). When the server cannot replay the gap,
   * `onRecovery` (and the client's `recovery` event) says `recovered: false`. Resolves once
   * the server has confirmed (waiting for a connection if there is none yet).
   *
   * @example
   * ```ts
   * const sub = await client.subscribe<{ text: string }>('chat:lobby', (pub) => render(pub.data.text));
   * ```
   */
  async subscribe<T = unknown>(
    channel: string,
    handler: (publication: Publication<T>) => void,
    options: SubscribeOptions = {},
  ): Promise<Subscription<T>> {
    this.assertChannel(channel);
    for (let existing = this.subs.get(channel); existing; existing = this.subs.get(channel)) {
      if (existing.state !== 'closing') {
        throw new WirehubError('already_subscribed', `this client is already subscribed to ${channel}`);
      }
      await existing.closed;
    }
    this.assertOpen();
    return new Promise<Subscription<T>>((resolve, reject) => {
      const sub = new Subscription<T>(this.subscriptionHost, channel, handler, options, { resolve, reject });
      this.subs.set(channel, sub as unknown as Subscription<unknown>);
      if (this.connection.state === 'connected') sub.attach();
      else this.connection.start();
    });
  }

  /** The subscription to `channel`, if any. */
  subscription(channel: string): Subscription | undefined {
    return this.subs.get(channel);
  }

  /**
   * Publishes `data` (any JSON value) to a channel; resolves with its position on channels
   * with history.
   *
   * @example
   * ```ts
   * const { offset } = await client.publish('chat:lobby', { text: 'hi' });
   * ```
   */
  async publish(channel: string, data: unknown): Promise<RtPublishResult> {
    this.assertChannel(channel);
    if (data === undefined) throw new WirehubError('invalid_message', 'data is required');
    return this.connection.command({ op: 'publish', channel, data }, publishResultGuard);
  }

  /**
   * Reads a channel's history: the newest `limit` publications, or with `since` the ones
   * after it (oldest first; page on with the last one's position). `complete: false` means
   * `since` is no longer covered.
   *
   * @example
   * ```ts
   * const { publications } = await client.history('chat:lobby', { limit: 50 });
   * ```
   */
  async history(
    channel: string,
    query: { since?: StreamPosition; limit?: number } = {},
  ): Promise<RtHistoryResult> {
    this.assertChannel(channel);
    const command: Record<string, unknown> = { op: 'history', channel };
    if (query.since) command.since = { epoch: query.since.epoch, offset: query.since.offset };
    if (query.limit !== undefined) command.limit = query.limit;
    return this.connection.command(command, historyResultGuard);
  }

  /**
   * Who is in a channel now (namespaces with presence, e.g. `chat:*`).
   *
   * @example
   * ```ts
   * const members = await client.presence('chat:lobby'); // [{ client: 'c-…', connectedAt: 1764… }]
   * ```
   */
  async presence(channel: string): Promise<PresenceMember[]> {
    this.assertChannel(channel);
    const result = await this.connection.command({ op: 'presence', channel }, presenceResultGuard);
    return result.members;
  }

  /** Round trip to the server; resolves with the time it took in ms. */
  async ping(): Promise<number> {
    const started = Date.now();
    await this.connection.command({ op: 'ping' }, anything);
    return Date.now() - started;
  }

  /**
   * Hands the server a new token for this connection before the old one expires (else the
   * server closes with 4001). A fixed `token` option is replaced, so reconnects use the new one.
   * The new token's grants apply at once: channels it no longer allows are left by the server,
   * listed in `unsubscribed`, and their subscriptions end with a `forbidden` error (`onError`).
   *
   * @example
   * ```ts
   * const { expiresAt, unsubscribed } = await client.refresh(await fetchNewToken());
   * ```
   */
  async refresh(token: string): Promise<RtRefreshResult> {
    const result = await this.connection.command({ op: 'refresh', token }, refreshResultGuard);
    this.connection.tokenRefreshed(token);
    for (const channel of result.unsubscribed) {
      this.subs
        .get(channel)
        ?.revoke(new WirehubError('forbidden', `the refreshed token does not grant ${channel}`, { channel }));
    }
    return result;
  }

  /**
   * Starts a task run and follows it. The handle yields every update in order (also across
   * reconnects: missed updates are read back from the run's channel), has the outcome in
   * `result`, and `cancel()`s. Rejects with `unknown_task`, `invalid_inputs` (see
   * `details`), `queue_full`, …
   *
   * @example
   * ```ts
   * const run = await client.runTask({ project: 'demo', domain: 'development', task: 'word-count', version: 'v1', inputs: { text: 'a b a' } });
   * const { status, outputs } = await run.result;
   * ```
   */
  runTask(request: RunRequest): Promise<RunHandle> {
    return new Promise<RunHandle>((resolve, reject) => {
      const command = {
        op: 'run',
        project: request.project,
        domain: request.domain,
        task: request.task,
        version: request.version,
        inputs: request.inputs ?? {},
      };
      this.connection.send(command, runResultGuard, {
        // Made synchronously with the reply: the run's pushes may be in the very next frame.
        ok: (result) => {
          const handle =
            this.runs.get(result.run) ?? new RunHandle(this.runHost, result.run, result.url, 'push');
          this.runs.set(result.run, handle);
          resolve(handle);
        },
        fail: reject,
      });
    });
  }

  /**
   * Follows a run started elsewhere (another client, the REST API): every update from the
   * first, read from the run's channel, then live ones.
   */
  watchRun(runId: string): RunHandle {
    this.assertOpen();
    const existing = this.runs.get(runId);
    if (existing) return existing;
    const handle = new RunHandle(this.runHost, runId, undefined, 'channel');
    this.runs.set(runId, handle);
    if (this.connection.state === 'connected') handle.connectionOpened();
    else this.connection.start();
    return handle;
  }

  /** Aborts a run; its `ABORTED` update follows on its handle. */
  cancelRun(runId: string): Promise<RtCancelResult> {
    return this.connection.command({ op: 'cancel', run: runId }, cancelResultGuard);
  }

  private assertOpen(): void {
    this.connection.assertOpen();
  }

  private assertChannel(channel: string): void {
    this.assertOpen();
    if (!isChannelName(channel))
      throw new WirehubError('bad_channel', `invalid channel name ${JSON.stringify(channel)}`);
  }

  // ---- what the connection, subscriptions and run handles see -----------------------------

  private readonly connectionHost: ConnectionHost = {
    opened: () => {
      for (const sub of [...this.subs.values()]) sub.attach();
      for (const run of [...this.runs.values()]) run.connectionOpened();
    },
    push: (frame: RtPush) => {
      switch (frame.op) {
        case 'message':
          this.subs.get(frame.channel)?.deliver(frame);
          return;
        case 'join':
        case 'leave':
          this.subs.get(frame.channel)?.presence(frame);
          return;
        case 'run':
          this.runs.get(frame.run)?.fromPush(frame);
          return;
      }
    },
    lost: () => {
      for (const sub of this.subs.values()) sub.detach();
      for (const run of this.runs.values()) run.connectionLost();
    },
    stopped: (err) => {
      for (const sub of [...this.subs.values()]) sub.end(err);
      this.subs.clear();
      for (const run of [...this.runs.values()]) run.end(err);
      this.runs.clear();
    },
  };

  private readonly subscriptionHost: SubscriptionHost = {
    connected: () => this.connection.state === 'connected',
    // No timeout: a subscribe waits for its answer as long as the connection lasts.
    send: (command, guard, callbacks) =>
      this.connection.send(command, guard, callbacks, { queue: false, timeoutMs: 0 }),
    forget: (sub) => {
      if (this.subs.get(sub.channel) === (sub as unknown as Subscription<unknown>))
        this.subs.delete(sub.channel);
    },
    reportRecovery: (info) => this.events.emit('recovery', info),
    reportError: (err) => this.events.emit('error', err),
  };

  private readonly runHost: RunHost = {
    subscribe: (channel, handler, options) =>
      this.subscribe(
        channel,
        handler as (pub: Publication<unknown>) => void,
        options,
      ) as Promise<Subscription>,
    history: (channel, query) => this.history(channel, query),
    cancelRun: (runId) => this.cancelRun(runId),
    forgetRun: (handle) => {
      if (this.runs.get(handle.id) === handle) this.runs.delete(handle.id);
    },
    reportError: (err) => this.events.emit('error', err),
  };
}
