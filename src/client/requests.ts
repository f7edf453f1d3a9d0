import { WirehubError } from '../protocol/errors.js';
import { type Guard, parse } from '../protocol/guard.js';
import { malformed } from './errors.js';
import type { SendCallbacks } from './subscription.js';
import { OPEN, type WebSocketLike } from './websocket.js';

/** One command on its way: queued, then in flight under its id, then settled once. */
export interface Request {
  command: Record<string, unknown>;
  guard: Guard<unknown>;
  callbacks: SendCallbacks<unknown>;
  timer?: ReturnType<typeof setTimeout> | undefined;
  /** The command id, once sent. */
  id?: number;
  done?: boolean;
}

/**
 * The client's commands: ids, the queue of those waiting for a connection, those in flight,
 * their timeouts, and settling each exactly once with its reply checked by its guard. The
 * connection (`Connection`, connection.ts) decides when to send and when to fail them.
 *
 * @example
 * ```ts
 * const req = requests.create({ op: 'ping' }, anything, { ok, fail }, 15_000);
 * requests.transmit(req, socket); // later: requests.reply(frame.id, frame.result)
 * ```
 */
export class Requests {
  private lastId = 0;
  private readonly queue: Request[] = [];
  private readonly inflight = new Map<number, Request>();

  /** A new request; with `timeoutMs` > 0 it fails with `timeout` when nothing answers in time. */
  create<R>(
    command: Record<string, unknown>,
    guard: Guard<R>,
    callbacks: SendCallbacks<R>,
    timeoutMs: number,
  ): Request {
    const req: Request = { command, guard, callbacks: callbacks as SendCallbacks<unknown> };
    if (timeoutMs > 0) {
      req.timer = setTimeout(() => {
        const queued = this.queue.indexOf(req);
        if (queued !== -1) this.queue.splice(queued, 1);
        if (req.id !== undefined) this.inflight.delete(req.id);
        this.settle(
          req,
          new WirehubError('timeout', `no answer to "${String(command.op)}" within ${timeoutMs} ms`),
        );
      }, timeoutMs);
    }
    return req;
  }

  /** Waits for the next connection (see `flush`). */
  enqueue(req: Request): void {
    this.queue.push(req);
  }

  /** Sends the queued requests, in order, on a socket that just opened. */
  flush(socket: WebSocketLike | undefined): void {
    for (const req of this.queue.splice(0)) this.transmit(req, socket);
  }

  /** Sends a request with the next id; fails it with `disconnected` when the socket is not open. */
  transmit(req: Request, socket: WebSocketLike | undefined): void {
    if (!socket || socket.readyState !== OPEN) {
      this.settle(req, new WirehubError('disconnected', 'not connected'));
      return;
    }
    this.lastId += 1;
    const id = this.lastId;
    req.id = id;
    this.inflight.set(id, req);
    try {
      socket.send(JSON.stringify({ ...req.command, id }));
    } catch (err) {
      this.inflight.delete(id);
      this.settle(req, new WirehubError('disconnected', `could not send: ${String(err)}`));
    }
  }

  /** A `reply` frame: settles its request (none when it timed out meanwhile). */
  reply(id: number, result: unknown): void {
    const req = this.inflight.get(id);
    if (!req) return;
    this.inflight.delete(id);
    this.settle(req, { result });
  }

  /** An `error` frame: settles its request and returns true, or false when no request has that id. */
  error(id: number | undefined, err: WirehubError): boolean {
    const req = id === undefined ? undefined : this.inflight.get(id);
    if (!req || id === undefined) return false;
    this.inflight.delete(id);
    this.settle(req, err);
    return true;
  }

  /** The connection dropped: the requests in flight fail with `err`; queued ones wait on. */
  failInflight(err: WirehubError): void {
    const inflight = [...this.inflight.values()];
    this.inflight.clear();
    for (const req of inflight) this.settle(req, err);
  }

  /** The client stopped: every request, queued or in flight, fails with `err`. */
  failAll(err: WirehubError): void {
    const waiting = [...this.queue.splice(0), ...this.inflight.values()];
    this.inflight.clear();
    for (const req of waiting) this.settle(req, err);
  }

  /** Settles a request once, with a result (checked by its guard) or an error. */
  settle(req: Request, outcome: WirehubError | { result: unknown }): void {
    if (req.done) return;
    req.done = true;
    if (req.timer !== undefined) clearTimeout(req.timer);
    if (outcome instanceof WirehubError) {
      req.callbacks.fail(outcome);
      return;
    }
    const parsed = parse(req.guard, outcome.result);
    if (parsed.success) req.callbacks.ok(parsed.data);
    else req.callbacks.fail(malformed(`a reply to "${String(req.command.op)}"`, parsed.issues));
  }
}
