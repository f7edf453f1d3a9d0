import type { History } from './history.js';
import type { Prng } from './prng.js';
import type { Entry, SetUp } from './setup.js';

/** What every client of a schedule works with. */
export interface ActorContext {
  history: History;
  setup: SetUp;
}

/** Pause between connection attempts: a client retrying a dead node must not spin. */
export const RETRY_MS = 50;

export const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A client of a schedule: it has a home node and, like a client behind a load balancer,
 * tries the next node when its home does not answer. `start()` runs its loop, `stop()` ends
 * it for good.
 */
export abstract class Actor<Options = unknown> {
  protected stopped = false;
  /** Its connections so far (1, 2, …): payloads and events carry the current one. */
  protected conn = 0;
  private attempts = 0;
  private loop: Promise<void> | undefined;
  /** The node of the current (or last) connection. */
  node: number;

  constructor(
    readonly id: string,
    readonly home: number,
    protected readonly ctx: ActorContext,
    protected readonly rng: Prng,
    protected readonly options: Options,
  ) {
    this.node = home;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops for good and resolves once its loop has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt();
    await this.loop;
    this.close();
  }

  /** What the client does until stopped (clients that only act on request return at once). */
  protected abstract run(): Promise<void>;

  /** Unblocks the loop so that it sees it is stopped (wakes a wait, closes a socket). */
  protected interrupt(): void {}

  /** Lets go of what is still open once the loop has ended. */
  protected close(): void {}

  /** The node to try next: home first, then the others in turn while connecting fails. */
  protected nextEntry(): Entry {
    const nodes = this.ctx.setup.nodes;
    this.node = (this.home + this.attempts) % nodes;
    this.attempts += 1;
    return this.ctx.setup.entry(this.node);
  }

  /** A connection opened: the next failure starts again from home. */
  protected connected(): void {
    this.resetAttempts();
    this.conn += 1;
  }

  /** The next attempt goes home first again. */
  protected resetAttempts(): void {
    this.attempts = 0;
  }
}
