import type { Socket } from 'node:net';
import { type RecoveryInfo, WirehubClient } from '../../../src/client/index.js';
import type { RtServerFrame } from '../../../src/protocol/index.js';
import { RtClient } from '../rt-client.js';
import { WebSocket } from '../ws.js';
import { Actor, type ActorContext, pause, RETRY_MS } from './actor.js';
import { type Position, payloadKey, positionOf } from './history.js';
import type { Prng } from './prng.js';

const SUBSCRIBE_TIMEOUT_MS = 8_000;

/** A client that subscribes to channels and reports where it is in each. */
export interface Observer {
  readonly id: string;
  readonly channels: readonly string[];
  /** The position of the last publication it processed on `channel`. */
  position(channel: string): Position | undefined;
}

export interface RtObserverOptions {
  channels: readonly string[];
  /** Resubscribe with `since` (recover) after a reconnect, or start afresh. */
  since: boolean;
}

/**
 * A raw `/rt` client (the `ws` package, frames as the server sends them) that subscribes to
 * its channels, records every subscribe reply and message, and after any close reconnects
 * (to the next node if its home is down) and subscribes again, with `since` = the last
 * position it processed when `options.since` says so. It can also stop reading (a slow
 * consumer) and drop its connection.
 */
export class RtObserver extends Actor<RtObserverOptions> implements Observer {
  private client: RtClient | undefined;
  private readonly positions = new Map<string, Position>();
  private readonly pending = new Map<number, { channel: string; since: Position | undefined }>();
  private nextId = 0;
  /**
   * A connection this client gave up on (a subscribe timed out): like any client that drops a
   * socket, it reads nothing more from it. A late reply and the live messages behind it can
   * still be in the same read; taking those would advance `since` past a subscription whose
   * start it never learnt.
   */
  private abandoned: number | undefined;

  get channels(): readonly string[] {
    return this.options.channels;
  }

  position(channel: string): Position | undefined {
    return this.positions.get(channel);
  }

  protected override interrupt(): void {
    this.resume();
    this.client?.ws.terminate();
  }

  drop(): void {
    this.client?.ws.terminate();
  }

  /** Stops reading from the socket: the server's queue for it grows. */
  pause(): void {
    this.socket()?.pause();
  }

  resume(): void {
    this.socket()?.resume();
  }

  private socket(): Socket | undefined {
    return (this.client?.ws as unknown as { _socket?: Socket } | undefined)?._socket;
  }

  protected async run(): Promise<void> {
    while (!this.stopped) {
      let client: RtClient;
      try {
        client = await RtClient.connect(`${this.nextEntry().wsUrl}/rt`);
      } catch {
        await pause(RETRY_MS);
        continue;
      }
      this.connected();
      this.client = client;
      const conn = this.conn;
      client.ws.on('message', (raw) => this.onFrame(conn, JSON.parse(String(raw)) as RtServerFrame));
      client.closed.then(({ code }) => this.ctx.history.add({ type: 'closed', actor: this.id, conn, code }));
      if (!(await this.subscribeAll(client))) {
        // Refused (e.g. broker_unavailable while Redis is away) or timed out: start over a
        // little later, on a new connection.
        this.abandoned = conn;
        client.ws.terminate();
        await client.closed;
        await pause(RETRY_MS);
        continue;
      }
      await client.closed;
    }
  }

  private async subscribeAll(client: RtClient): Promise<boolean> {
    for (const channel of this.options.channels) {
      this.nextId += 1;
      const id = this.nextId;
      const since = this.options.since ? this.positions.get(channel) : undefined;
      this.pending.set(id, { channel, since });
      try {
        const answer = client.waitReply(id, SUBSCRIBE_TIMEOUT_MS);
        client.sendRaw(JSON.stringify({ op: 'subscribe', id, channel, ...(since ? { since } : {}) }));
        if ((await answer).op === 'error') return false;
      } catch {
        return false;
      } finally {
        this.pending.delete(id);
      }
    }
    return true;
  }

  private onFrame(conn: number, frame: RtServerFrame): void {
    if (conn === this.abandoned) return;
    const { history } = this.ctx;
    if (frame.op === 'reply' && frame.id !== undefined) {
      const asked = this.pending.get(frame.id);
      if (!asked) return;
      const result = frame.result as {
        epoch?: string;
        offset?: number;
        recovered?: boolean;
        publications: { epoch?: string; offset?: number; data: unknown }[];
      };
      const position = positionOf(result);
      history.add({
        type: 'subscribed',
        actor: this.id,
        conn,
        channel: asked.channel,
        ...(asked.since ? { since: asked.since } : {}),
        ...(result.recovered !== undefined ? { recovered: result.recovered } : {}),
        ...(position ? { position } : {}),
      });
      for (const pub of result.publications) this.message(conn, asked.channel, pub, true);
      if (position) this.positions.set(asked.channel, position);
      return;
    }
    if (frame.op === 'message') this.message(conn, frame.channel, frame, false);
  }

  private message(
    conn: number,
    channel: string,
    pub: { epoch?: string; offset?: number; data: unknown },
    replay: boolean,
  ): void {
    const position = positionOf(pub);
    this.ctx.history.add({
      type: 'message',
      actor: this.id,
      conn,
      channel,
      key: payloadKey(pub.data),
      replay,
      ...(position ? { position } : {}),
    });
    if (position) this.positions.set(channel, position);
  }
}

/**
 * The client SDK (`wirehub/client`) in Node: it reconnects and recovers by itself; this
 * records what its handlers see. After a drop the SDK replays what was missed to the handler
 * and then reports the recovery, so the handler's calls are held until that report and
 * recorded after it, as a raw client would see the reply first.
 */
export class SdkObserver extends Actor<{ channels: readonly string[] }> implements Observer {
  private readonly client: WirehubClient;
  /** Channels whose handler calls are held until their (re)subscribe outcome is known. */
  private readonly held = new Map<string, { position: Position | undefined; data: unknown }[]>();
  private readonly positions = new Map<string, Position>();

  constructor(
    id: string,
    home: number,
    ctx: ActorContext,
    rng: Prng,
    options: { channels: readonly string[] },
  ) {
    super(id, home, ctx, rng, options);
    this.client = new WirehubClient({
      url: ctx.setup.entry(home).wsUrl,
      WebSocket: WebSocket as never,
      reconnect: { minDelayMs: 20, maxDelayMs: 500 },
      commandTimeoutMs: SUBSCRIBE_TIMEOUT_MS,
    });
    this.client.on('connected', () => this.connected());
    this.client.on('disconnected', ({ code }) => {
      this.ctx.history.add({ type: 'closed', actor: this.id, conn: this.conn, code });
      for (const channel of this.channels) if (!this.held.has(channel)) this.held.set(channel, []);
    });
  }

  get channels(): readonly string[] {
    return this.options.channels;
  }

  position(channel: string): Position | undefined {
    return this.positions.get(channel);
  }

  /** Subscribes to every channel; the SDK does the rest (reconnects, recovery) until stopped. */
  protected async run(): Promise<void> {
    const subscribing: Promise<void>[] = [];
    for (const channel of this.channels) {
      this.held.set(channel, []);
      subscribing.push(
        this.client
          .subscribe(channel, (pub) => this.take(channel, pub), {
            onRecovery: (info) => this.release(info.channel, info),
            onError: (err) =>
              this.ctx.history.add({
                type: 'fail',
                actor: this.id,
                op: `resubscribe ${channel}`,
                code: err.code,
              }),
          })
          .then(
            // The first subscribe (no since): the SDK reports no recovery for it. This runs
            // before any later close event is handled (a microtask after the reply).
            () => this.release(channel, undefined),
            (err: Error) => {
              this.ctx.history.add({
                type: 'fail',
                actor: this.id,
                op: `subscribe ${channel}`,
                code: err.message,
              });
            },
          ),
      );
    }
    await Promise.allSettled(subscribing);
  }

  protected override interrupt(): void {
    this.client.close();
  }

  private take(channel: string, pub: { epoch?: string; offset?: number; data: unknown }): void {
    const position = positionOf(pub);
    const held = this.held.get(channel);
    if (held) {
      held.push({ position, data: pub.data });
      return;
    }
    this.record(channel, position, pub.data, false);
  }

  /** Records the (re)subscribe outcome, then the handler calls held for it. */
  private release(channel: string, info: RecoveryInfo | undefined): void {
    const held = this.held.get(channel);
    if (!held) return;
    this.held.delete(channel);
    this.ctx.history.add({
      type: 'subscribed',
      actor: this.id,
      conn: this.conn,
      channel,
      ...(info?.since ? { since: info.since } : {}),
      ...(info ? { recovered: info.recovered } : {}),
      ...(info?.position ? { position: info.position } : {}),
    });
    for (const pub of held) this.record(channel, pub.position, pub.data, info !== undefined);
    // Where the subscription now stands: after `recovered: false` that is the reply's position,
    // not the last publication this client saw (the liveness check compares it with the head).
    if (info?.position) this.positions.set(channel, info.position);
  }

  private record(channel: string, position: Position | undefined, data: unknown, replay: boolean): void {
    this.ctx.history.add({
      type: 'message',
      actor: this.id,
      conn: this.conn,
      channel,
      key: payloadKey(data),
      replay,
      ...(position ? { position } : {}),
    });
    if (position) this.positions.set(channel, position);
  }
}
