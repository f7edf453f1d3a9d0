import { Frame } from '../hub/frame.js';
import { type FeedOrder, HeldFeed } from '../hub/held-feed.js';
import type { Hub } from '../hub/hub.js';
import type { Session } from '../hub/session.js';
import { WirehubError } from '../protocol/index.js';
import { isTerminal } from '../tasks/runs/state-machine.js';
import { type RunUpdate, runChannel } from '../tasks/runs/types.js';

/** Runs one connection may follow at once. */
export const MAX_FEEDS_PER_CONNECTION = 100;

/** Run updates in `seq` order. */
const bySeq: FeedOrder<RunUpdate, number> = {
  position: (update) => update.seq,
  after: (seq, last) => seq > last,
};

/**
 * How one protocol shows a run update (`/task-runner`: the update itself; `/rt`: a `run` push),
 * live and replayed alike.
 */
export type RunUpdateShape = (update: RunUpdate) => Frame;

/** `/task-runner` clients get each update object as it is. */
export const plainRunUpdates: RunUpdateShape = (update) => Frame.json(update);

/**
 * One client's view of one run: a `HeldFeed` of `run:<id>` (followed with `hub.watch`). It
 * holds live updates until the client has had what must come first (the `started` answer, or
 * the stored updates of a `watch`), then sends each update once, in order (by `seq`), and ends
 * itself after the terminal one.
 */
export class RunFeed {
  private readonly feed = new HeldFeed(bySeq);
  private ended = false;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly session: Session,
    readonly runId: string,
    private readonly shape: RunUpdateShape,
    private readonly onEnd: (feed: RunFeed) => void,
  ) {}

  /** A live update (from the hub). */
  offer(update: RunUpdate): void {
    if (!this.ended && this.feed.offer(update)) this.send(update);
  }

  /** Sends a stored update now (a `watch` replays history before releasing live ones). */
  replay(update: RunUpdate): void {
    if (!this.ended && this.feed.pass(update)) this.send(update);
  }

  /** Live updates up to `seq` are already known to the client: skip them. */
  skipTo(seq: number): void {
    this.feed.seen(seq);
  }

  /** Sends what was held and lets the rest through as it comes. */
  release(): void {
    for (const update of this.feed.release()) {
      if (this.ended) break;
      this.send(update);
    }
  }

  /** Stops the feed (after the terminal update, on disconnect, or when the request failed). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unwatch?.();
    this.onEnd(this);
  }

  /** Hands the feed what stops its hub watch (at once when the feed already ended meanwhile). */
  watching(unwatch: () => void): void {
    if (this.ended) unwatch();
    else this.unwatch = unwatch;
  }

  private send(update: RunUpdate): void {
    this.session.send(this.shape(update), 'disconnect');
    if (isTerminal(update.status)) this.end();
  }
}

/**
 * The runs one connection follows: one held `RunFeed` per run, subscribed to `run:<id>`
 * before anything about the run is sent, so the client misses nothing and sees nothing twice.
 */
/** The feeds of a connection that follows no run: one empty Map read by all of them. */
const NO_FEEDS = new Map<string, RunFeed>();

export class RunFeeds {
  /** `NO_FEEDS` until the first run is followed: an idle connection holds no Map of its own. */
  private feeds = NO_FEEDS;
  private closed = false;

  constructor(
    private readonly hub: Hub,
    private readonly session: Session,
    private readonly shape: RunUpdateShape,
  ) {}

  get(runId: string): RunFeed | undefined {
    return this.feeds.get(runId);
  }

  /** Watches `run:<id>` with a held feed; release it once the client has what comes first. */
  async follow(runId: string): Promise<RunFeed> {
    if (this.closed) throw new WirehubError('not_ready', 'the connection is closing');
    if (this.feeds.size >= MAX_FEEDS_PER_CONNECTION) {
      throw new WirehubError(
        'too_many_channels',
        `this connection already follows ${MAX_FEEDS_PER_CONNECTION} runs; wait for some to end`,
      );
    }
    this.feeds.get(runId)?.end();
    const feed = new RunFeed(this.session, runId, this.shape, (f) => {
      if (this.feeds.get(runId) === f) this.feeds.delete(runId);
    });
    if (this.feeds === NO_FEEDS) this.feeds = new Map();
    this.feeds.set(runId, feed);
    feed.watching(await this.hub.watch(runChannel(runId), (pub) => feed.offer(pub.data as RunUpdate)));
    return feed;
  }

  /** The connection is gone: its views end, the runs go on. */
  endAll(): void {
    this.closed = true;
    for (const feed of [...this.feeds.values()]) feed.end();
  }
}
