import type { RtServerFrame } from '../../src/protocol/index.js';
import { WebSocket } from './ws.js';

const STEP_TIMEOUT_MS = 5_000;

type Reply = Extract<RtServerFrame, { op: 'reply' | 'error' }>;
type Push = Exclude<RtServerFrame, { op: 'reply' | 'error' }>;

/** An `/rt` command failed: the error frame's code and message. */
export class RtCommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(`${code}: ${message}`);
  }
}

interface Waiter<T> {
  match(frame: T): boolean;
  resolve(frame: T): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A real `ws` client speaking `/rt`: `request()` sends a command with a fresh id and resolves
 * with its reply or error frame; pushes (`message`, `join`, `leave`, `run`) and errors without
 * an id queue up for `nextPush()` / `nextOrphan()`. Every frame is also kept in `frames`.
 */
export class RtClient {
  readonly frames: RtServerFrame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly pushes: Push[] = [];
  private readonly orphans: Reply[] = [];
  private readonly replies = new Map<number, Waiter<Reply>>();
  private pushWaiters: Waiter<Push>[] = [];
  private orphanWaiters: Waiter<Reply>[] = [];
  private nextId = 1;
  private closeInfo: { code: number; reason: string } | undefined;

  /** The worker that accepted the upgrade (`x-wirehub-worker`, with `serve --workers`). */
  worker: string | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.once('upgrade', (res) => {
      const header = res.headers['x-wirehub-worker'];
      this.worker = typeof header === 'string' ? header : undefined;
    });
    ws.on('message', (data) => this.onFrame(JSON.parse(String(data)) as RtServerFrame));
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        const err = new Error(`socket closed with ${code}`);
        for (const w of [...this.replies.values(), ...this.pushWaiters, ...this.orphanWaiters]) {
          clearTimeout(w.timer);
          w.reject(err);
        }
        this.replies.clear();
        this.pushWaiters = [];
        this.orphanWaiters = [];
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {});
  }

  static connect(url: string, protocols: string | string[] = 'wirehub.v1'): Promise<RtClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      const client = new RtClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
        res.resume();
      });
      ws.once('error', reject);
    });
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  /** Sends `{op, id, ...fields}` and resolves with the reply or error frame for that id. */
  request(op: string, fields: Record<string, unknown> = {}, timeoutMs = STEP_TIMEOUT_MS): Promise<Reply> {
    const id = this.nextId;
    this.nextId += 1;
    const answer = this.waitReply(id, timeoutMs);
    this.ws.send(JSON.stringify({ op, id, ...fields }));
    return answer;
  }

  /** Like `request`, but resolves with `result` and rejects with RtCommandError on an error frame. */
  async call<T = Record<string, unknown>>(op: string, fields: Record<string, unknown> = {}): Promise<T> {
    const frame = await this.request(op, fields);
    if (frame.op === 'error') throw new RtCommandError(frame.code, frame.message, frame.details);
    return frame.result as T;
  }

  /** Resolves with the reply or error frame carrying `id` (for frames sent with `sendRaw`). */
  waitReply(id: number, timeoutMs = STEP_TIMEOUT_MS): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (this.closeInfo) {
        reject(new Error(`socket closed with ${this.closeInfo.code}`));
        return;
      }
      const timer = setTimeout(() => {
        this.replies.delete(id);
        reject(new Error(`no reply to command ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.replies.set(id, { match: () => true, resolve, reject, timer });
    });
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** The next push (optionally the next one matching `match`; others stay queued). */
  nextPush(match: (p: Push) => boolean = () => true, timeoutMs = STEP_TIMEOUT_MS): Promise<Push> {
    return this.take(this.pushes, (w) => this.pushWaiters.push(w), match, timeoutMs, 'push');
  }

  /** The next error frame that carried no usable id. */
  nextOrphan(timeoutMs = STEP_TIMEOUT_MS): Promise<Reply> {
    return this.take(
      this.orphans,
      (w) => this.orphanWaiters.push(w),
      () => true,
      timeoutMs,
      'id-less error',
    );
  }

  /** Pushes received and not yet taken. */
  pendingPushes(): Push[] {
    return [...this.pushes];
  }

  close(code = 1000): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(code);
    return this.closed;
  }

  private take<T>(
    queue: T[],
    park: (w: Waiter<T>) => void,
    match: (f: T) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    const index = queue.findIndex(match);
    if (index !== -1) return Promise.resolve(queue.splice(index, 1)[0] as T);
    if (this.closeInfo) return Promise.reject(new Error(`socket closed with ${this.closeInfo.code}`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        resolve: (f) => {
          clearTimeout(waiter.timer);
          resolve(f);
        },
        reject,
        timer: setTimeout(() => {
          this.pushWaiters = this.pushWaiters.filter((w) => w !== (waiter as unknown));
          this.orphanWaiters = this.orphanWaiters.filter((w) => w !== (waiter as unknown));
          reject(new Error(`no ${what} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      park(waiter);
    });
  }

  private onFrame(frame: RtServerFrame): void {
    this.frames.push(frame);
    if (frame.op === 'reply' || frame.op === 'error') {
      const waiter = frame.id === undefined ? undefined : this.replies.get(frame.id);
      if (waiter && frame.id !== undefined) {
        this.replies.delete(frame.id);
        clearTimeout(waiter.timer);
        waiter.resolve(frame);
        return;
      }
      const orphanWaiter = this.orphanWaiters.shift();
      if (orphanWaiter) orphanWaiter.resolve(frame);
      else this.orphans.push(frame);
      return;
    }
    const i = this.pushWaiters.findIndex((w) => w.match(frame));
    if (i !== -1) {
      const [w] = this.pushWaiters.splice(i, 1);
      w?.resolve(frame);
    } else {
      this.pushes.push(frame);
    }
  }
}
