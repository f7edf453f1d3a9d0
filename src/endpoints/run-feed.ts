import { Frame } from '../hub/frame.js';
import type { Encoder, Hub } from '../hub/hub.js';
import type { Principal } from '../hub/principal.js';
import type { OverflowPolicy, Session } from '../hub/session.js';
import { WirehubError } from '../protocol/index.js';
import { isTerminal } from '../tasks/runs/state-machine.js';
import { type RunUpdate, runChannel } from '../tasks/runs/types.js';

/** Runs one connection may follow at once. */
export const MAX_FEEDS_PER_CONNECTION = 100;

/** A run update, encoded once, that remembers its sequence number and whether it ends the run. */
export class RunUpdateFrame extends Frame {
  constructor(
    payload: Buffer,
    readonly seq: number,
    readonly terminal: boolean,
  ) {
    super(payload, false);
  }

  /** `body` is what the client gets (the update itself by default, or a protocol's envelope of it). */
  static of(update: RunUpdate, body: unknown = update): RunUpdateFrame {
    return new RunUpdateFrame(
      Buffer.from(JSON.stringify(body), 'utf8'),
      update.seq,
      isTerminal(update.status),
    );
  }
}

/** How one protocol shows run updates: the hub encoder for live ones, and the same shape for replays. */
export interface RunUpdateShape {
  encoder: Encoder;
  frame(update: RunUpdate): RunUpdateFrame;
}

/** `/task-runner` clients get each update object as it is. */
export const plainRunUpdates: RunUpdateShape = {
  encoder: { name: 'run-update', encode: (pub) => RunUpdateFrame.of(pub.data as RunUpdate) },
  frame: (update) => RunUpdateFrame.of(update),
};

/**
 * One client's view of one run: the hub subscriber for `run:<id>`. It holds live updates
 * until the client has had what must come first (the `started` answer, or the stored
 * updates of a `watch`), then sends each update once, in order (by `seq`), and ends itself
 * after the terminal one.
 */
export class RunFeed implements Session {
  private held: Frame[] | undefined = [];
  private lastSeq = 0;
  private ended = false;

  constructor(
    private readonly session: Session,
    readonly runId: string,
    private readonly shape: RunUpdateShape,
    private readonly onEnd: (feed: RunFeed) => void,
  ) {}

  get id(): string {
    return this.session.id;
  }
  get endpoint(): string {
    return this.session.endpoint;
  }
  get remoteAddress(): string {
    return this.session.remoteAddress;
  }
  get connectedAt(): Date {
    return this.session.connectedAt;
  }
  get user(): string | undefined {
    return this.session.user;
  }
  get principal(): Principal {
    return this.session.principal;
  }
  reauthenticate(principal: Principal): void {
    this.session.reauthenticate(principal);
  }
  get bufferedAmount(): number {
    return this.session.bufferedAmount;
  }
  get isOpen(): boolean {
    return !this.ended && this.session.isOpen;
  }

  send(frame: Frame, overflow: OverflowPolicy = 'disconnect'): boolean {
    if (this.ended) return false;
    if (this.held) {
      this.held.push(frame);
      return true;
    }
    return this.forward(frame, overflow);
  }

  /** Sends a stored update now (a `watch` replays history before releasing live ones). */
  replay(update: RunUpdate): void {
    if (!this.ended) this.forward(this.shape.frame(update), 'disconnect');
  }

  /** Live updates up to `seq` are already known to the client: skip them. */
  skipTo(seq: number): void {
    this.lastSeq = Math.max(this.lastSeq, seq);
  }

  /** Sends what was held and lets the rest through as it comes. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const frame of held) {
      if (this.ended) break;
      this.forward(frame, 'disconnect');
    }
  }

  /** Stops the feed (after the terminal update, on disconnect, or when the request failed). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.held = undefined;
    this.onEnd(this);
  }

  close(code: number, reason?: string): void {
    this.session.close(code, reason);
  }

  private forward(frame: Frame, overflow: OverflowPolicy): boolean {
    let terminal = false;
    if (frame instanceof RunUpdateFrame) {
      if (frame.seq <= this.lastSeq) return true;
      this.lastSeq = frame.seq;
      terminal = frame.terminal;
    }
    const sent = this.session.send(frame, overflow);
    if (terminal) this.end();
    return sent;
  }
}

/**
 * The runs one connection follows: one held `RunFeed` per run, subscribed to `run:<id>`
 * before anything about the run is sent, so the client misses nothing and sees nothing twice.
 */
export class RunFeeds {
  private readonly feeds = new Map<string, RunFeed>();
  private closed = false;

  constructor(
    private readonly hub: Hub,
    private readonly session: Session,
    private readonly shape: RunUpdateShape,
  ) {}

  get(runId: string): RunFeed | undefined {
    return this.feeds.get(runId);
  }

  /** Subscribes a held feed to `run:<id>`; release it once the client has what comes first. */
  async follow(runId: string): Promise<RunFeed> {
    if (this.closed) throw new WirehubError('not_ready', 'the connection is closing');
    if (this.feeds.size >= MAX_FEEDS_PER_CONNECTION) {
      throw new WirehubError(
        'too_many_channels',
        `this connection already follows ${MAX_FEEDS_PER_CONNECTION} runs; wait for some to end`,
      );
    }
    this.feeds.get(runId)?.end();
    const channel = runChannel(runId);
    const feed = new RunFeed(this.session, runId, this.shape, (f) => {
      this.hub.unsubscribe(channel, f);
      if (this.feeds.get(runId) === f) this.feeds.delete(runId);
    });
    this.feeds.set(runId, feed);
    await this.hub.subscribe(channel, { session: feed, encoder: this.shape.encoder });
    return feed;
  }

  /** The connection is gone: its views end, the runs go on. */
  endAll(): void {
    this.closed = true;
    for (const feed of [...this.feeds.values()]) feed.end();
  }
}
