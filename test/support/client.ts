import type { Socket } from 'node:net';
import type { ClientOptions } from 'ws';
import { WebSocket } from './ws.js';

export interface Closed {
  code: number;
  reason: string;
}

/** Refused upgrade: the HTTP status and JSON body the server answered with. */
export interface Refusal {
  status: number;
  body: string;
}

const STEP_TIMEOUT_MS = 5_000;

/**
 * A real `ws` client with an inbox: `next()` waits for the next message (event-driven; the
 * timeout only turns a hang into a clear failure).
 */
export class TestClient {
  readonly messages: (string | Buffer)[] = [];
  readonly closed: Promise<Closed>;
  private waiters: { resolve: (m: string | Buffer) => void; reject: (e: Error) => void }[] = [];
  private closeInfo: Closed | undefined;

  /** The worker that accepted the upgrade (`x-wirehub-worker`, with `serve --workers`). */
  worker: string | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.once('upgrade', (res) => {
      const header = res.headers['x-wirehub-worker'];
      this.worker = typeof header === 'string' ? header : undefined;
    });
    ws.on('message', (data, isBinary) => {
      const msg = isBinary ? (data as Buffer) : (data as Buffer).toString('utf8');
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(msg);
      else this.messages.push(msg);
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) w.reject(new Error(`socket closed with ${code} ${reason}`));
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {});
  }

  static connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
        res.resume();
      });
      ws.once('error', reject);
    });
  }

  /** Attempts an upgrade that must be refused; resolves with the status and body. */
  static refused(url: string, options: ClientOptions = {}): Promise<Refusal> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.once('open', () => {
        ws.terminate();
        reject(new Error('the upgrade was accepted'));
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('error', (err) => reject(err));
    });
  }

  next(timeoutMs = STEP_TIMEOUT_MS): Promise<string | Buffer> {
    const queued = this.messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closeInfo) return Promise.reject(new Error(`socket closed with ${this.closeInfo.code}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (m: string | Buffer) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push({
        resolve: done,
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  async nextText(timeoutMs?: number): Promise<string> {
    const m = await this.next(timeoutMs);
    if (typeof m !== 'string') throw new Error('expected a text message, got binary');
    return m;
  }

  async nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T> {
    return JSON.parse(await this.nextText(timeoutMs)) as T;
  }

  send(data: string | Buffer, options: { binary?: boolean } = {}): Promise<void> {
    return new Promise((resolve, reject) =>
      this.ws.send(data, options, (err) => (err ? reject(err) : resolve())),
    );
  }

  close(code = 1000): Promise<Closed> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(code);
    return this.closed;
  }
}

/** The next `count` messages of `client`, in order. */
export async function collect(
  client: TestClient,
  count: number,
  timeoutMs?: number,
): Promise<(string | Buffer)[]> {
  const out: (string | Buffer)[] = [];
  for (let i = 0; i < count; i += 1) out.push(await client.next(timeoutMs));
  return out;
}

/**
 * Writes a hand-made, masked client frame (`opcode`, short `payload`) on the socket under a
 * `ws` client, bypassing what `ws` would check on the way out (UTF-8 of text frames).
 */
export function writeRawFrame(ws: WebSocket, opcode: number, payload: Buffer): void {
  const mask = Buffer.from([9, 8, 7, 6]);
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
  if (payload.length >= 126) throw new Error('writeRawFrame: short payloads only');
  const header = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  (ws as unknown as { _socket: Socket })._socket.write(Buffer.concat([header, mask, masked]));
}
