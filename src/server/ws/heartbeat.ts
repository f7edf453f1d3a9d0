import type { WsSession } from './ws-session.js';

/**
 * Heartbeat rounds started in this process, all servers alike. A pong stamps the session with
 * the current count, and a round judges dead the sessions stamped before it began: a small
 * integer per session where a `performance.now()` time cost each idle connection a 16-byte
 * heap number. Monotonic, so another server's rounds in between cannot make a pong look old.
 */
let rounds = 0;

/** The heartbeat round now (what a pong records). */
export function heartbeatRound(): number {
  return rounds;
}

/**
 * One timer for all sessions: every `intervalMs` each session gets a ping, and
 * `timeoutMs` later every session whose pong has not come back is terminated. Two timers
 * per node instead of one per connection.
 */
export class Heartbeat {
  private interval: NodeJS.Timeout | undefined;
  private readonly deadlines = new Set<NodeJS.Timeout>();

  constructor(
    private readonly sessions: Iterable<WsSession>,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly onDead: (session: WsSession) => void,
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.interval = setInterval(() => this.round(), this.intervalMs);
    this.interval.unref();
  }

  stop(): void {
    clearInterval(this.interval);
    for (const t of this.deadlines) clearTimeout(t);
    this.deadlines.clear();
  }

  private round(): void {
    const pinged: WsSession[] = [];
    rounds += 1;
    const round = rounds;
    for (const session of this.sessions) {
      if (!session.isOpen) continue;
      session.ping();
      pinged.push(session);
    }
    if (pinged.length === 0) return;
    const deadline = setTimeout(
      () => {
        this.deadlines.delete(deadline);
        // Timers run before I/O in a loop iteration: after a stall, pongs already in the
        // kernel would be read only after this timer. Judge in the check phase instead,
        // once this iteration's I/O (the pongs) has been processed. A session is judged on
        // this round's ping only: a later round may already have pinged it again.
        setImmediate(() => {
          for (const session of pinged) if (session.pongRound < round && session.isOpen) this.onDead(session);
        });
      },
      Math.min(this.timeoutMs, this.intervalMs),
    );
    deadline.unref();
    this.deadlines.add(deadline);
  }
}
