import { Frame } from '../hub/frame.js';
import type { Encoder } from '../hub/hub.js';
import type { OverflowPolicy, Session } from '../hub/session.js';
import { isTerminal } from '../tasks/runs/state-machine.js';
import type { RunUpdate } from '../tasks/runs/types.js';

/** A run update, encoded once, that remembers its sequence number and whether it ends the run. */
export class RunUpdateFrame extends Frame {
  constructor(
    payload: Buffer,
    readonly seq: number,
    readonly terminal: boolean,
  ) {
    super(payload, false);
  }

  static of(update: RunUpdate): RunUpdateFrame {
    return new RunUpdateFrame(
      Buffer.from(JSON.stringify(update), 'utf8'),
      update.seq,
      isTerminal(update.status),
    );
  }
}

/** `run:<id>` publications, sent to `/task-runner` clients as the update object itself. */
export const runUpdateEncoder: Encoder = {
  name: 'run-update',
  encode: (pub) => RunUpdateFrame.of(pub.data as RunUpdate),
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
    if (!this.ended) this.forward(RunUpdateFrame.of(update), 'disconnect');
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
