import { WebSocket } from './ws.js';

/** A frame of `/task-runner`: an update (has `seq`), a `started` answer or an `error`. */
export interface RunFrame {
  run_id?: string;
  seq?: number;
  status?: string;
  message?: string;
  progress?: number;
  at?: string;
  url?: string;
  outputs?: unknown;
  error?: { code?: string; kind?: string; message: string; details?: unknown };
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']);
const STEP_TIMEOUT_MS = 15_000;

type Waiter = { check: () => boolean; resolve: () => void };

/**
 * A real `ws` client of `/task-runner` that sorts what arrives: answers (`started`, errors)
 * in order, and updates per run. Waits are event-driven; timeouts only turn hangs into
 * clear failures.
 */
export class TaskRunnerClient {
  /** Every frame in arrival order. */
  readonly frames: RunFrame[] = [];
  private readonly answers: RunFrame[] = [];
  private readonly waiters: Waiter[] = [];
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as RunFrame;
      this.frames.push(frame);
      if (frame.seq === undefined) this.answers.push(frame);
      for (const w of [...this.waiters]) {
        if (w.check()) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('error', () => {});
  }

  /** Connects to `<wsUrl>/task-runner`; `query` (e.g. `?access_token=…`) is appended as is. */
  static connect(wsUrl: string, query = ''): Promise<TaskRunnerClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl}/task-runner${query}`);
      const client = new TaskRunnerClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Sends a request and resolves with its answer (`started` or `error`). */
  async request(message: unknown): Promise<RunFrame> {
    this.send(message);
    return this.nextAnswer();
  }

  /** Starts a run and returns its id (fails the test on an error answer). */
  async start(
    task: string,
    inputs: unknown,
    project = 'demo',
    domain = 'development',
    version = 'v1',
  ): Promise<string> {
    const answer = await this.request({ project, domain, task, version, inputs });
    if (answer.status !== 'started' || !answer.run_id)
      throw new Error(`run refused: ${JSON.stringify(answer)}`);
    return answer.run_id;
  }

  async nextAnswer(): Promise<RunFrame> {
    await this.until(() => this.answers.length > 0, 'an answer');
    return this.answers.shift() as RunFrame;
  }

  updates(runId: string): RunFrame[] {
    return this.frames.filter((f) => f.run_id === runId && f.seq !== undefined);
  }

  /** Resolves with the run's terminal update. */
  async ended(runId: string): Promise<RunFrame> {
    await this.until(
      () => this.updates(runId).some((u) => TERMINAL.has(u.status ?? '')),
      `the end of ${runId}`,
    );
    return this.updates(runId).find((u) => TERMINAL.has(u.status ?? '')) as RunFrame;
  }

  /** Resolves with the first update of the run matching `predicate`. */
  async when(runId: string, predicate: (u: RunFrame) => boolean): Promise<RunFrame> {
    await this.until(() => this.updates(runId).some(predicate), `an update of ${runId}`);
    return this.updates(runId).find(predicate) as RunFrame;
  }

  until(check: () => boolean, what: string, timeoutMs = STEP_TIMEOUT_MS): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        const seen = this.frames.slice(-5).map((f) => JSON.stringify(f));
        reject(new Error(`no ${what} within ${timeoutMs} ms; last frames: ${seen.join(' ') || 'none'}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** True when `seqs` is 1, 2, …, n. */
export function contiguous(seqs: (number | undefined)[]): boolean {
  return seqs.every((s, i) => s === i + 1);
}
