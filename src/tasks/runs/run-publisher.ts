import type { PublishInput } from '../../engine/types.js';
import { WirehubError } from '../../protocol/index.js';
import { type Logger, silentLogger } from '../../util/logger.js';
import { SerialByKey } from '../../util/serial.js';
import { type RunUpdate, runChannel } from './types.js';

/** What the publisher needs of the hub. */
export interface RunUpdateSink {
  publish(input: PublishInput): Promise<unknown>;
}

export interface RunPublisherOptions {
  log?: Logger;
  /** Updates waiting to be published (all runs) beyond which new ones are dropped. Default 10,000. */
  maxPending?: number;
  /** First retry delay; doubles per attempt up to `maxDelayMs`. Default 50 ms. */
  firstDelayMs?: number;
  /** Default 2,000 ms. */
  maxDelayMs?: number;
}

/**
 * Publishes each stored run update on `run:<id>`, in `seq` order per run, and retries one the
 * broker refused for a while (its link is down, a command timed out) until it is out.
 *
 * Why: the run store and the broker are separate links. After Redis comes back, the store's
 * link can be up before the engine's, so an update is stored (the run goes on) while its
 * publication is refused. Dropping it left every watcher one update short forever, often the
 * terminal one: a run that "never ended". The store stays the truth (a new `watch` replays it);
 * this keeps the live feed whole too. Updates of one run go out one after another, so a retry
 * never lands after a newer update of its run.
 */
export class RunPublisher {
  private readonly chains = new SerialByKey();
  private readonly log: Logger;
  private readonly maxPending: number;
  private readonly firstDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleepers = new Set<() => void>();
  private pending = 0;
  private closed = false;

  constructor(
    private readonly sink: RunUpdateSink,
    options: RunPublisherOptions = {},
  ) {
    this.log = options.log ?? silentLogger;
    this.maxPending = options.maxPending ?? 10_000;
    this.firstDelayMs = options.firstDelayMs ?? 50;
    this.maxDelayMs = options.maxDelayMs ?? 2_000;
  }

  /** Updates accepted and not yet published (or given up). */
  get waiting(): number {
    return this.pending;
  }

  /**
   * Queues `update` behind its run's earlier ones. Resolves once its first attempt settled
   * (published, or refused and waiting for a retry), never rejects.
   */
  publish(update: RunUpdate): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.pending >= this.maxPending) {
      this.log.error(
        { run: update.run_id, seq: update.seq, waiting: this.pending },
        'too many run updates wait for the broker: this one is only in the run store',
      );
      return Promise.resolve();
    }
    this.pending += 1;
    return new Promise((attempted) => {
      void this.chains
        .run(update.run_id, () => this.deliver(update, attempted))
        .finally(() => {
          this.pending -= 1;
          attempted();
        });
    });
  }

  /** Settles once every update queued so far is out, given up or abandoned by `close`. */
  settled(): Promise<void> {
    return this.chains.settled();
  }

  /** Stops retrying: what still waits stays in the run store only. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pending > 0)
      this.log.warn({ waiting: this.pending }, 'run updates left unpublished at shutdown');
    for (const wake of [...this.sleepers]) wake();
  }

  private async deliver(update: RunUpdate, attempted: () => void): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await this.sink.publish({ channel: runChannel(update.run_id), data: update });
        if (attempt > 0)
          this.log.info(
            { run: update.run_id, seq: update.seq, attempt },
            'run update published after a retry',
          );
        return;
      } catch (err) {
        attempted();
        if (!retryable(err)) {
          this.log.error(
            { err, run: update.run_id, seq: update.seq },
            'publishing a run update failed; not retried',
          );
          return;
        }
        if (attempt === 0) {
          this.log.warn(
            { err, run: update.run_id, seq: update.seq },
            'publishing a run update failed; retrying',
          );
        }
        await this.sleep(Math.min(this.maxDelayMs, this.firstDelayMs * 2 ** attempt));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

/** A refusal that a later attempt may not get: a 4xx says the update itself is the problem. */
function retryable(err: unknown): boolean {
  return !(err instanceof WirehubError) || err.status >= 500;
}
