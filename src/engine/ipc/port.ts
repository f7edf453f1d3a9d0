import type { MessagePort } from 'node:worker_threads';
import { decodeFrame, encodeFrame, type FrameFormat, FrameReader, pack } from './frame-codec.js';

/**
 * One end of a message pipe between two processes (or threads) of one server: what the IPC
 * engine and its host talk over. Messages arrive in the order they were sent; `onClose`
 * listeners run once when the other end is gone (its process exited), after which `send`
 * does nothing. `send` throws when a message cannot be serialised.
 */
export interface IpcPort {
  /** Sends a message, or one wrapped by {@link encodeMessage} (serialised once for all ports). */
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onClose(listener: () => void): void;
  close(): void;
}

/**
 * A message to send on one or several ports, encoded at most once: a publication the primary
 * forwards to every worker that has subscribers of its channel is encoded once, not once per
 * worker, and not at all when it only goes over a `MessagePort` (the primary's own hub), which
 * clones the message itself.
 */
export class EncodedMessage {
  private encoded: Uint8Array | undefined;

  constructor(
    readonly message: unknown,
    readonly format: FrameFormat = 'v8',
  ) {}

  /** The message as one frame (made on first use); throws when it cannot be encoded. */
  get bytes(): Uint8Array {
    this.encoded ??= encodeFrame(this.message, this.format);
    return this.encoded;
  }
}

/**
 * Wraps `message` for {@link IpcPort.send}: `json` for values that are JSON (see
 * {@link FrameFormat}), `v8` (the default) for anything structured clone can carry.
 */
export function encodeMessage(message: unknown, format: FrameFormat = 'v8'): EncodedMessage {
  return new EncodedMessage(message, format);
}

/** The parts of a `net.Socket` (or any duplex byte stream) a {@link streamPort} uses. */
export interface ByteStream {
  write(chunk: Uint8Array): boolean;
  end(): unknown;
  destroy(): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  readonly destroyed: boolean;
  /** Bytes written but not yet taken by the other end (queued in this process). */
  readonly writableLength: number;
}

/** Options of a {@link streamPort}. */
export interface StreamPortOptions {
  /**
   * Bytes that may wait for the other end to read them before the link counts as broken
   * (default 512 MB, as much as the largest frame). A process that stops reading (stuck in a
   * loop, stopped) would otherwise make this one hold everything sent to it, until memory runs
   * out here too.
   */
  maxBacklogBytes?: number;
}

/** How many frames, or bytes, one write carries at most before it leaves at once. */
const BATCH_FRAMES = 512;
const BATCH_BYTES = 4 * 1024 * 1024;
/**
 * A frame longer than this is taken for a damaged stream. The largest real frames (a history
 * page, a run's record) are far smaller; this only bounds what a broken length could make us
 * buffer.
 */
const MAX_FRAME_BYTES = 512 * 1024 * 1024;
const MAX_BACKLOG_BYTES = MAX_FRAME_BYTES;

/**
 * A port over a byte stream between two processes of one server: the socket pair the primary
 * opens to each worker beside Node's IPC channel (see `runtime/workers/link.ts`).
 *
 * Frames are length-prefixed bytes of our own ({@link encodeFrame}): `send` encodes (so a
 * message that cannot be encoded throws there and fails alone), and the frames sent during one
 * turn of the event loop leave as one `write`, from a `setImmediate`, or at once when a batch
 * reaches {@link BATCH_FRAMES} frames or {@link BATCH_BYTES}. Why not Node's IPC channel (which
 * the first `--workers` used): each of its messages is serialised once more by the channel
 * (`v8` in 'advanced' mode, with a host object per buffer) and parsed again on the other side,
 * which was most of the primary's CPU under fan-out; here a batch is written as it is.
 * `setImmediate` (not a timer) runs after the poll phase that read the requests, so everything
 * they cause goes out together and a lone frame waits for no clock. Order holds: one queue per
 * port, written in order to one stream.
 *
 * The port closes when the stream does (the other process exited) or breaks (an error, a
 * damaged frame length, more than `maxBacklogBytes` waiting for the other end to read); a
 * single frame that cannot be decoded is skipped.
 *
 * @example
 * ```ts
 * // in a process forked with stdio ['inherit', 'inherit', 'inherit', 'ipc', 'pipe']:
 * const port = streamPort(new Socket({ fd: 4, readable: true, writable: true }));
 * port.onMessage((m) => console.log(m));
 * ```
 */
export function streamPort(stream: ByteStream, options: StreamPortOptions = {}): IpcPort {
  const maxBacklog = options.maxBacklogBytes ?? MAX_BACKLOG_BYTES;
  let open = !stream.destroyed;
  const closers: (() => void)[] = [];
  const listeners: ((message: unknown) => void)[] = [];
  const reader = new FrameReader(MAX_FRAME_BYTES);
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    if (batch.length === 0) return;
    const frames = batch;
    const bytes = batchBytes;
    batch = [];
    batchBytes = 0;
    // A write to a stream that broke meanwhile fails through its 'error' event, which shuts.
    if (!open) return;
    stream.write(pack(frames, bytes));
    if (stream.writableLength > maxBacklog) {
      // The other end has stopped reading: give up on it rather than hold without bound.
      shut();
      stream.destroy();
    }
  };
  const deliver = (frame: Buffer) => {
    let message: unknown;
    try {
      message = decodeFrame(frame);
    } catch {
      return; // A damaged frame must not take the process down; the rest still counts.
    }
    for (const listener of listeners) listener(message);
  };
  const shut = () => {
    if (!open) return;
    open = false;
    batch = [];
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    for (const closer of closers) closer();
  };
  stream.on('data', (chunk) => {
    if (!open) return;
    try {
      reader.push(chunk, deliver);
    } catch {
      // A length no frame of ours has: the stream is out of step, nothing after it can be read.
      shut();
      stream.destroy();
    }
  });
  // The other process exited, or the link broke (EPIPE, ECONNRESET): the other end is gone.
  stream.on('close', shut);
  stream.on('error', shut);
  return {
    send(message) {
      if (!open) return;
      // Throws when the message cannot be encoded (the caller fails that message alone).
      const bytes = message instanceof EncodedMessage ? message.bytes : encodeFrame(message, 'v8');
      batch.push(bytes);
      batchBytes += bytes.byteLength;
      if (batch.length >= BATCH_FRAMES || batchBytes >= BATCH_BYTES) flush();
      else scheduled ??= setImmediate(flush);
    },
    onMessage(listener) {
      listeners.push(listener);
    },
    onClose(listener) {
      closers.push(listener);
    },
    close() {
      // What was sent before the close still leaves: end() writes it before the stream's end.
      flush();
      shut();
      stream.end();
    },
  };
}

/** A port over a `MessagePort` (worker threads; a `MessageChannel` in tests). */
export function messagePortPort(port: MessagePort): IpcPort {
  let open = true;
  const closers: (() => void)[] = [];
  const shut = () => {
    if (!open) return;
    open = false;
    for (const closer of closers) closer();
  };
  port.on('close', shut);
  return {
    send(message) {
      if (open) port.postMessage(message instanceof EncodedMessage ? message.message : message);
    },
    onMessage(listener) {
      port.on('message', listener);
    },
    onClose(listener) {
      closers.push(listener);
    },
    close() {
      port.close();
      shut();
    },
  };
}
