import type { z } from 'zod';
import { WirehubError } from '../protocol/errors.js';
import { parse } from '../protocol/guard.js';
import type { RtCancelResult, RtHistoryResult, RtPublication, RtRunPush } from '../protocol/rt.js';
import { runEventGuard, runUpdateGuard } from '../protocol/rt-guards.js';
import {
  isTerminalRunStatus,
  type RunStatus,
  runChannel,
  type TerminalRunStatus,
} from '../protocol/run-status.js';
import { malformed } from './errors.js';
import type { runEventSchema } from './run-event-schema.js';
import type { StreamPosition, SubscribeOptions, Subscription } from './subscription.js';

/**
 * One update of a run, in order. `seq` counts 1, 2, 3… per run (the server's sequence
 * number); `at` is the update's time when it was read from the run's channel.
 */
export type RunEvent = z.infer<typeof runEventSchema> & { seq: number; at?: string };

/** The last update of a run: its status is terminal, with `outputs` or `error`. */
export type RunOutcome = RunEvent & { status: TerminalRunStatus };

/** What `runTask` needs to start a run (`version` may be `latest`). */
export interface RunRequest {
  project: string;
  domain: string;
  task: string;
  version: string;
  inputs?: Record<string, unknown>;
}

/** What a run handle needs from its client. @internal */
export interface RunHost {
  subscribe(
    channel: string,
    handler: (pub: RtPublication) => void,
    options: SubscribeOptions,
  ): Promise<Subscription>;
  history(channel: string, query: { since?: StreamPosition; limit?: number }): Promise<RtHistoryResult>;
  cancelRun(runId: string): Promise<RtCancelResult>;
  forgetRun(handle: RunHandle): void;
  reportError(error: WirehubError): void;
}

const PAGE = 1000;

/**
 * A task run followed by a {@link WirehubClient}: every update in order (an async iterator,
 * or the `updates` array), the final outcome (`result`), and `cancel()`. It keeps following
 * across reconnects: updates the client missed while disconnected are read back from the
 * run's channel (`run:<id>`, which keeps every update), so none is lost or repeated.
 *
 * @example
 * ```ts
 * const run = await client.runTask({ project: 'demo', domain: 'development', task: 'countdown', version: 'v1', inputs: { n: 3 } });
 * for await (const update of run) console.log(update.status, update.progress ?? '', update.message ?? '');
 * const outcome = await run.result; // { status: 'SUCCEEDED', outputs: { counted: 3, … }, … }
 * ```
 */
export class RunHandle implements AsyncIterable<RunEvent> {
  readonly channel: string;
  /**
   * The run's final update, whatever its status (SUCCEEDED, FAILED, ABORTED, TIMED_OUT).
   * Rejects only when the client cannot follow the run any more (closed, refused).
   */
  readonly result: Promise<RunOutcome>;
  private readonly events: RunEvent[] = [];
  /** Updates that arrived ahead of one still missing, by `seq`. */
  private readonly early = new Map<number, RunEvent>();
  private readonly waiters = new Set<() => void>();
  private settle!: { resolve(outcome: RunOutcome): void; reject(err: WirehubError): void };
  private failure: WirehubError | undefined;
  private ended = false;
  private mode: 'push' | 'channel';
  private follow: Promise<void> | undefined;
  private following: Subscription | undefined;
  /** History from here on still has to be read (set until a backfill completes). */
  private backfillFrom: StreamPosition | undefined;
  private backfilling = false;

  /** @internal Made by `WirehubClient.runTask` / `watchRun`. */
  constructor(
    private readonly host: RunHost,
    readonly id: string,
    /** The run's page (`/runs/<id>`), when the server said it. */
    readonly url: string | undefined,
    mode: 'push' | 'channel',
  ) {
    this.channel = runChannel(id);
    this.mode = mode;
    this.result = new Promise<RunOutcome>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // An app that never awaits `result` must not get an unhandled rejection.
    this.result.catch(() => {});
  }

  /** Every update so far, in order. */
  get updates(): readonly RunEvent[] {
    return this.events;
  }

  /** The latest status (undefined until the first update). */
  get status(): RunStatus | undefined {
    return this.events.at(-1)?.status;
  }

  /** True once the run ended (or the handle stopped following it). */
  get done(): boolean {
    return this.ended;
  }

  /** Asks the server to abort the run; its `ABORTED` update follows. Rejects `run_finished` if it already ended. */
  cancel(): Promise<RtCancelResult> {
    return this.host.cancelRun(this.id);
  }

  /** Stops following (the run goes on on the server): iterators end, `result` rejects `client_closed`. */
  async stop(): Promise<void> {
    this.fail(new WirehubError('client_closed', 'stopped following the run'));
    await this.following?.closed;
  }

  /** Yields every update from the first, then each new one, until the run ends. */
  [Symbol.asyncIterator](): AsyncIterator<RunEvent> {
    let next = 0;
    return {
      next: async (): Promise<IteratorResult<RunEvent>> => {
        for (;;) {
          const event = this.events[next];
          if (event) {
            next += 1;
            return { value: event, done: false };
          }
          if (this.ended) {
            if (this.failure) throw this.failure;
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => this.waiters.add(resolve));
        }
      },
      return: async (): Promise<IteratorResult<RunEvent>> => {
        next = Number.POSITIVE_INFINITY;
        return { value: undefined, done: true };
      },
    };
  }

  /** @internal A `run` push on the connection that started the run. */
  fromPush(push: RtRunPush): void {
    if (this.ended || this.mode !== 'push') return;
    const parsed = parse(runEventGuard, push);
    if (!parsed.success) {
      this.host.reportError(malformed('a run push', parsed.issues));
      return;
    }
    // That connection's pushes are every update from the first, in order: the next seq.
    this.accept({ ...parsed.data, seq: this.seen + 1 });
  }

  /** @internal The connection dropped: the pushes are gone, the run's channel takes over. */
  connectionLost(): void {
    if (!this.ended) this.mode = 'channel';
  }

  /** @internal A connection is open: follow the channel if the pushes are gone. */
  connectionOpened(): void {
    if (this.ended || this.mode !== 'channel') return;
    if (!this.follow) {
      this.follow = this.startFollowing();
      return;
    }
    // A backfill cut short by a disconnect resumes where it stopped.
    if (this.following && this.backfillFrom && !this.backfilling) void this.backfill();
  }

  /** @internal The client stopped for good. */
  end(err: WirehubError): void {
    this.fail(err);
  }

  private get seen(): number {
    return this.events.at(-1)?.seq ?? 0;
  }

  private async startFollowing(): Promise<void> {
    try {
      const sub = await this.host.subscribe(this.channel, (pub) => this.fromChannel(pub), {
        onRecovery: (info) => {
          // More missed than one replay carries (or trimmed): read the gap from history.
          if (!info.recovered && info.since && !this.backfillFrom) {
            this.backfillFrom = info.since;
            void this.backfill();
          }
        },
        onError: (err) => this.fail(err),
      });
      this.following = sub;
      if (this.ended) {
        await sub.unsubscribe();
        return;
      }
      // Live updates flow from the subscribe on; read every earlier one from history.
      const position = sub.position;
      if (position) {
        this.backfillFrom = { epoch: position.epoch, offset: 0 };
        await this.backfill();
      }
    } catch (err) {
      this.fail(err instanceof WirehubError ? err : new WirehubError('internal', String(err)));
    }
  }

  /** Pages the run's channel history from `backfillFrom`; a disconnect leaves the rest for later. */
  private async backfill(): Promise<void> {
    if (this.backfilling) return;
    this.backfilling = true;
    let epochChanged = false;
    try {
      while (this.backfillFrom && !this.ended) {
        const from: StreamPosition = this.backfillFrom;
        const page = await this.host.history(this.channel, { since: from, limit: PAGE });
        if (!page.complete) {
          if (page.epoch !== from.epoch && !epochChanged) {
            // The stream was lost and started again: take all of the new one.
            epochChanged = true;
            this.backfillFrom = { epoch: page.epoch, offset: 0 };
            continue;
          }
          break; // trimmed: what is gone is gone
        }
        for (const pub of page.publications) this.fromChannel(pub);
        const last = page.publications.at(-1);
        if (page.publications.length < PAGE || last?.offset === undefined) break;
        this.backfillFrom = { epoch: page.epoch, offset: last.offset };
      }
      this.backfillFrom = undefined;
      this.flushPastGap();
    } catch (err) {
      const error = err instanceof WirehubError ? err : new WirehubError('internal', String(err));
      // Disconnected: the next connection resumes from backfillFrom. Anything else is final.
      if (error.code !== 'disconnected' && error.code !== 'timeout') this.fail(error);
    } finally {
      this.backfilling = false;
    }
  }

  private fromChannel(pub: RtPublication): void {
    if (this.ended) return;
    const parsed = parse(runUpdateGuard, pub.data);
    if (!parsed.success) {
      this.host.reportError(malformed(`an update on ${this.channel}`, parsed.issues));
      return;
    }
    const u = parsed.data;
    if (u.run_id !== this.id) return;
    const event: RunEvent = { run: u.run_id, seq: u.seq, status: u.status, message: u.message, at: u.at };
    if (u.progress !== undefined) event.progress = u.progress;
    if (u.outputs !== undefined) event.outputs = u.outputs;
    if (u.error !== undefined) event.error = u.error;
    this.accept(event);
  }

  /** Takes an update once, in `seq` order: early ones wait for the ones before them. */
  private accept(event: RunEvent): void {
    if (this.ended || event.seq <= this.seen) return;
    this.early.set(event.seq, event);
    for (let next = this.early.get(this.seen + 1); next; next = this.early.get(this.seen + 1)) {
      this.early.delete(next.seq);
      this.append(next);
      if (this.ended) return;
    }
  }

  /** History could not fill a gap: hand over what came after it, in order, rather than wait forever. */
  private flushPastGap(): void {
    const rest = [...this.early.values()].sort((a, b) => a.seq - b.seq);
    this.early.clear();
    if (rest.length > 0) {
      this.host.reportError(
        new WirehubError('internal', `updates of run ${this.id} before seq ${rest[0]?.seq} are lost`),
      );
    }
    for (const event of rest) if (!this.ended && event.seq > this.seen) this.append(event);
  }

  private append(event: RunEvent): void {
    this.events.push(event);
    if (isTerminalRunStatus(event.status)) {
      this.ended = true;
      this.settle.resolve(event as RunOutcome);
      this.host.forgetRun(this);
      void this.following?.unsubscribe();
    }
    this.wakeAll();
  }

  private fail(err: WirehubError): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = err;
    this.settle.reject(err);
    this.host.forgetRun(this);
    void this.following?.unsubscribe();
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
    this.waiters.clear();
  }
}
