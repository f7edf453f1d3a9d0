import { isErrorCode, WirehubError } from '../../protocol/errors.js';
import { jsonEncodeError } from '../../protocol/json.js';
import type { FrameFormat } from './frame-codec.js';
import { type EncodedMessage, encodeMessage, type IpcPort } from './port.js';

/** What crosses a port: calls and their answers, and one-way pushes. */
type Frame =
  /** `j`: the arguments are JSON and so is the answer (both cross as JSON). */
  | { k: 'call'; id: number; s: string; m: string; a: unknown[]; j?: 1 }
  | { k: 'ok'; id: number; v: unknown }
  | { k: 'err'; id: number; e: SentError }
  | { k: 'push'; s: string; e: string; a: unknown[] };

/** An error as it crosses: a catalog error keeps its code and details, others their message. */
interface SentError {
  code?: string;
  message: string;
  details?: unknown;
}

/** The methods one side offers under a service name. */
export type Service = Record<string, (...args: never[]) => unknown>;

function sendable(err: unknown): SentError {
  if (err instanceof WirehubError) {
    const sent: SentError = { code: err.code, message: err.message };
    if (err.details !== undefined) sent.details = err.details;
    return sent;
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

function revive(sent: SentError): Error {
  if (sent.code !== undefined && isErrorCode(sent.code))
    return new WirehubError(sent.code, sent.message, sent.details);
  return new Error(sent.message);
}

function isFrame(value: unknown): value is Frame {
  return typeof value === 'object' && value !== null && typeof (value as { k?: unknown }).k === 'string';
}

/**
 * Calls and one-way pushes between the processes of one server over an {@link IpcPort}: each
 * side may offer services (objects whose methods the other side calls by name) and listen to
 * pushes. A call answers with the method's result or its error (catalog errors keep their
 * code). Calls in flight when the port closes, and calls made after, fail with `closedError`.
 *
 * @example
 * ```ts
 * const primary = new RpcPeer(portA, () => new Error('gone'));
 * primary.serve('clock', { now: () => Date.now() });
 * const worker = new RpcPeer(portB, () => new Error('gone'));
 * await worker.call('clock', 'now', []); // 1796…
 * ```
 */
export class RpcPeer {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly services = new Map<string, Service>();
  private readonly pushListeners = new Map<string, (event: string, args: unknown[]) => void>();
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly port: IpcPort,
    private readonly closedError: () => Error,
  ) {
    port.onMessage((message) => this.receive(message));
    port.onClose(() => this.shut());
  }

  /** False once the other end is gone. */
  get open(): boolean {
    return !this.closed;
  }

  /** Offers `impl`'s methods to the other side under `name`. */
  serve(name: string, impl: Service): void {
    this.services.set(name, impl);
  }

  /** Runs `listener` once the other end is gone (at once if it already is). */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Receives the other side's pushes for `service`. */
  onPush(service: string, listener: (event: string, args: unknown[]) => void): void {
    this.pushListeners.set(service, listener);
  }

  /**
   * Calls `method` of the other side's `service`. With `format: 'json'` the call and its
   * answer cross as JSON (cheaper; see `FrameFormat`): only for arguments and an answer that
   * are JSON values (a publication), since JSON would turn anything else into something else.
   */
  call<T>(service: string, method: string, args: unknown[], format: FrameFormat = 'v8'): Promise<T> {
    if (this.closed) return Promise.reject(this.closedError());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        const frame: Frame =
          format === 'json'
            ? { k: 'call', id, s: service, m: method, a: args, j: 1 }
            : { k: 'call', id, s: service, m: method, a: args };
        this.port.send(encodeMessage(frame, format));
      } catch (err) {
        // The arguments cannot cross (too deep, a cycle): this call fails alone.
        this.waiting.delete(id);
        reject(jsonEncodeError(err, 'data'));
      }
    });
  }

  /** Tells the other side `event` of `service` (no answer). False when it could not be sent. */
  push(service: string, event: string, args: unknown[]): boolean {
    return this.pushEncoded(RpcPeer.encodePush(service, event, args));
  }

  /**
   * A push to send on many peers with {@link pushEncoded} (the same publication to every
   * worker), encoded at most once for all of them; `json` only for arguments that are JSON.
   */
  static encodePush(
    service: string,
    event: string,
    args: unknown[],
    format: FrameFormat = 'v8',
  ): EncodedMessage {
    return encodeMessage({ k: 'push', s: service, e: event, a: args } satisfies Frame, format);
  }

  /** Sends a push made by {@link RpcPeer.encodePush}. False when it could not be sent. */
  pushEncoded(push: EncodedMessage): boolean {
    if (this.closed) return false;
    try {
      this.port.send(push);
      return true;
    } catch {
      return false;
    }
  }

  /** Closes this end: pending calls fail. */
  close(): void {
    this.port.close();
    this.shut();
  }

  private receive(message: unknown): void {
    if (!isFrame(message)) return;
    switch (message.k) {
      case 'call':
        void this.answer(message.id, message.s, message.m, message.a, message.j === 1 ? 'json' : 'v8');
        return;
      case 'ok':
      case 'err': {
        const waiter = this.waiting.get(message.id);
        if (!waiter) return;
        this.waiting.delete(message.id);
        if (message.k === 'ok') waiter.resolve(message.v);
        else waiter.reject(revive(message.e));
        return;
      }
      case 'push':
        this.pushListeners.get(message.s)?.(message.e, message.a);
        return;
    }
  }

  private async answer(
    id: number,
    service: string,
    method: string,
    args: unknown[],
    format: FrameFormat,
  ): Promise<void> {
    let frame: Frame;
    try {
      const fn = this.services.get(service)?.[method];
      if (typeof fn !== 'function') throw new Error(`no method ${service}.${method} on the other side`);
      const value = await (fn as (...a: unknown[]) => unknown).apply(this.services.get(service), args);
      frame = { k: 'ok', id, v: value };
    } catch (err) {
      frame = { k: 'err', id, e: sendable(err) };
    }
    if (this.closed) return;
    try {
      // An error crosses as v8 whatever the call's format: its details need not be JSON.
      this.port.send(encodeMessage(frame, frame.k === 'ok' ? format : 'v8'));
    } catch (err) {
      // The answer could not be serialised: the caller gets that error instead of hanging.
      try {
        this.port.send({ k: 'err', id, e: sendable(jsonEncodeError(err, 'answer')) } satisfies Frame);
      } catch {
        // The port closed meanwhile: the caller's side fails its call on close.
      }
    }
  }

  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiter of pending) waiter.reject(this.closedError());
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
