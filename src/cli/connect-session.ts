import { createInterface, type Interface } from 'node:readline';
import type { ConnectPlan } from './connect-plan.js';

/**
 * What every `wirehub connect` mode shares: messages go to stdout and are counted against
 * `--count`; `--send` values, then stdin lines, go to the server in order; the session ends
 * at `--count` (exit 0), at `--timeout` (exit 1 if `--count` was not reached, else 0), on
 * Ctrl-C (exit 0), or when the mode calls `finish`. When stdin ends (and neither `--count`
 * nor `--timeout` says how long to listen) the connection is closed normally once everything
 * was sent: what the server answers before its close reply is still printed, so
 * `echo hi | wirehub connect /echo` prints the echo.
 */
export class ConnectSession {
  readonly done: Promise<number>;
  private received = 0;
  private settle!: (code: number) => void;
  private finished = false;
  private closing = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private lines: Interface | undefined;
  private sending: Promise<void> = Promise.resolve();
  private readonly onSigint = () => this.finish(0);

  constructor(
    private readonly plan: ConnectPlan,
    /** Closes the connection; called once when the session ends. */
    private readonly stop: () => void,
  ) {
    this.done = new Promise((resolve) => {
      this.settle = resolve;
    });
    if (plan.timeoutMs !== undefined) {
      this.timer = setTimeout(() => {
        if (plan.count === undefined) return this.finish(0);
        this.finish(
          1,
          `timed out after ${plan.timeoutMs} ms with ${this.received} of ${plan.count} messages`,
        );
      }, plan.timeoutMs);
    }
    process.once('SIGINT', this.onSigint);
  }

  /** True once the session has ended (its exit code is settled). */
  get ended(): boolean {
    return this.finished;
  }

  /** Prints one received message (a line on stdout) and counts it. */
  print(line: string): void {
    if (this.finished) return;
    process.stdout.write(`${line}\n`);
    this.received += 1;
    if (this.plan.count !== undefined && this.received >= this.plan.count) this.finish(0);
  }

  /** Sends `--send` values, then each stdin line, one after the other, through `send`. */
  feed(send: (text: string) => void | Promise<void>): void {
    const queue = (text: string) => {
      this.sending = this.sending
        .then(() => (this.finished ? undefined : send(text)))
        .catch((err: unknown) => this.finish(1, `sending failed: ${(err as Error).message}`));
    };
    for (const text of this.plan.send) queue(text);
    this.lines = createInterface({ input: process.stdin, terminal: false });
    this.lines.on('line', queue);
    this.lines.on('close', () => {
      const waitForMore = this.plan.count !== undefined || this.plan.timeoutMs !== undefined;
      if (!waitForMore) void this.sending.then(() => this.close());
    });
  }

  /** Starts a normal close; the mode calls `finish` when the connection has ended. */
  private close(): void {
    if (this.finished || this.closing) return;
    this.closing = true;
    this.stop();
  }

  /** Ends the session with an exit code; `why` goes to stderr. */
  finish(code: number, why?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (why) process.stderr.write(`${why}\n`);
    clearTimeout(this.timer);
    process.off('SIGINT', this.onSigint);
    this.lines?.close();
    // Without this, a stdin that never ends (a terminal) keeps the process alive.
    process.stdin.destroy();
    if (!this.closing) this.stop();
    this.settle(code);
  }
}
