import type { BenchSocket } from './driver.js';

interface Pending {
  resolve(result: unknown): void;
  reject(err: Error): void;
}

/**
 * The client side of `/rt` the benchmarks need (see DESIGN.md, "/rt"): `subscribe` and
 * `publish` commands, each answered by one `reply` or `error` with its id, and `message`
 * pushes. Only what fan-out measures; the full SDK is `wirehub/client`.
 */
export class RtClient {
  /** A publication pushed on a subscribed channel; `data` as sent by the publisher. */
  onPublication: (channel: string, data: unknown) => void = () => {};
  /** A command answered with `error` that nobody awaited (publishes are fire-and-forget). */
  onCommandError: (id: number, code: string, message: string) => void = () => {};
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(readonly socket: BenchSocket) {
    socket.onMessage = (text) => this.receive(text);
    const previous = socket.onClose;
    socket.onClose = (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`connection closed with ${code}`));
      this.pending.clear();
      previous(code);
    };
  }

  /**
   * Subscribes and resolves on the server's reply (rejects on its `error`); with `since`, asks
   * for the publications after that position (recovery).
   */
  subscribe(channel: string, since?: { epoch: string; offset: number }): Promise<unknown> {
    const id = this.nextId++;
    const reply = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.send(
      JSON.stringify(since ? { op: 'subscribe', id, channel, since } : { op: 'subscribe', id, channel }),
    );
    return reply;
  }

  /** Publishes and resolves on the server's reply (the publication is committed). */
  publishAcked(channel: string, data: unknown): Promise<unknown> {
    const id = this.nextId++;
    const reply = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.send(JSON.stringify({ op: 'publish', id, channel, data }));
    return reply;
  }

  /** Publishes without waiting; returns the command id its reply or error will carry. */
  publish(channel: string, data: unknown): number {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ op: 'publish', id, channel, data }));
    return id;
  }

  private receive(text: string): void {
    let msg: {
      op?: unknown;
      id?: unknown;
      channel?: unknown;
      data?: unknown;
      code?: unknown;
      message?: unknown;
    };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      this.onCommandError(
        0,
        'invalid_json',
        `the server sent a frame that is not JSON: ${text.slice(0, 60)}`,
      );
      return;
    }
    if (msg.op === 'message' && typeof msg.channel === 'string') {
      this.onPublication(msg.channel, msg.data);
      return;
    }
    if ((msg.op === 'reply' || msg.op === 'error') && typeof msg.id === 'number') {
      const pending = this.pending.get(msg.id);
      if (msg.op === 'reply') {
        if (pending) {
          this.pending.delete(msg.id);
          pending.resolve((msg as { result?: unknown }).result);
        }
        return;
      }
      const code = String(msg.code ?? 'unknown');
      const message = String(msg.message ?? '');
      if (pending) {
        this.pending.delete(msg.id);
        pending.reject(new Error(`${code}: ${message}`));
      } else {
        this.onCommandError(msg.id, code, message);
      }
    }
  }
}
