import { deserialize, serialize } from 'node:v8';
import type { MessagePort } from 'node:worker_threads';

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
 * A message to send on several ports, serialised at most once: a publication the primary
 * forwards to every worker that has subscribers of its channel costs one `v8.serialize`, not
 * one per worker, and none when it only goes over a `MessagePort` (the primary's own hub),
 * which clones the message itself.
 */
export class EncodedMessage {
  private serialised: Uint8Array | undefined;

  constructor(readonly message: unknown) {}

  /** The serialised message (made on first use); throws when it cannot be serialised. */
  get bytes(): Uint8Array {
    this.serialised ??= serialize(this.message);
    return this.serialised;
  }
}

/** Wraps `message` for sending on several ports with {@link IpcPort.send}. */
export function encodeMessage(message: unknown): EncodedMessage {
  return new EncodedMessage(message);
}

/** The parts of a `ChildProcess`, a cluster `Worker` or a child's own `process` a port uses. */
export interface ProcessChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  disconnect?(): void;
  readonly connected?: boolean;
}

/** How many frames, or bytes, one channel message carries at most before it leaves at once. */
const BATCH_FRAMES = 512;
const BATCH_BYTES = 4 * 1024 * 1024;
/** Each frame of a packed batch is preceded by its length. */
const LENGTH_BYTES = 4;

/** The frames of one batch as one buffer: each one's length (u32 LE), then its bytes. */
function pack(frames: Uint8Array[], bytes: number): Buffer {
  const packed = Buffer.allocUnsafe(bytes + frames.length * LENGTH_BYTES);
  let at = 0;
  for (const frame of frames) {
    packed.writeUInt32LE(frame.byteLength, at);
    packed.set(frame, at + LENGTH_BYTES);
    at += LENGTH_BYTES + frame.byteLength;
  }
  return packed;
}

/** Calls `each` with every frame of a packed batch, in order; stops at a truncated one. */
function unpack(packed: Uint8Array, each: (frame: Uint8Array) => void): void {
  const view = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  let at = 0;
  while (at + LENGTH_BYTES <= view.byteLength) {
    const length = view.readUInt32LE(at);
    const end = at + LENGTH_BYTES + length;
    if (end > view.byteLength) return;
    each(view.subarray(at + LENGTH_BYTES, end));
    at = end;
  }
}

/**
 * A port over Node's IPC channel: `processPort(process)` in a worker process,
 * `processPort(cluster.fork())` in the primary. Other messages on the channel (cluster's own,
 * anything not tagged for wirehub) pass by untouched.
 *
 * Frames are batched: each is serialised at `send` (`v8.serialize`, so one that cannot be
 * serialised throws there and fails alone), and the frames sent during one turn of the event
 * loop leave together as one channel message (packed into one buffer, each frame behind its
 * length), from a `setImmediate`, or at once when a batch reaches {@link BATCH_FRAMES} frames
 * or {@link BATCH_BYTES}. Why: each channel message is a
 * `write(2)` and a serialisation on both sides; under fan-out the primary sent one per
 * publication to every worker, and the workers each delivered it in a turn of its own, so a
 * socket got one write per publication instead of one per burst. `setImmediate` (not a timer)
 * runs after the poll phase that read the requests, so everything they cause goes out together
 * and a lone frame waits for no clock. Order holds: one queue per port, sent in order.
 * One buffer, not an array of them: the channel's serialiser writes (and its deserialiser
 * allocates) one host object per buffer, which was most of the primary's CPU under fan-out.
 * The channel needs `serialization: 'advanced'` (the primary sets it), which carries the
 * buffer as bytes.
 *
 * @example
 * ```ts
 * const port = processPort(process); // in a worker started by the primary with an IPC channel
 * port.onMessage((m) => console.log(m));
 * ```
 */
export function processPort(channel: ProcessChannel): IpcPort {
  const TAG = 'wirehub';
  let open = true;
  const closers: (() => void)[] = [];
  const listeners: ((message: unknown) => void)[] = [];
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
    if (!open || channel.connected === false) return;
    try {
      channel.send?.({ [TAG]: pack(frames, bytes) });
    } catch {
      // Nothing in the batch can fail to serialise (it is bytes), so the channel itself broke:
      // treat the other end as gone, so calls waiting on an answer fail instead of hanging.
      shut();
    }
  };
  const onMessage = (raw: unknown) => {
    if (typeof raw !== 'object' || raw === null) return;
    const packed = (raw as { [TAG]?: unknown })[TAG];
    if (!(packed instanceof Uint8Array)) return;
    unpack(packed, (bytes) => {
      let message: unknown;
      try {
        message = deserialize(bytes);
      } catch {
        return; // Not ours, or damaged: it must not take the process down; the rest still counts.
      }
      for (const listener of listeners) listener(message);
    });
  };
  const shut = () => {
    if (!open) return;
    open = false;
    batch = [];
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    channel.off('message', onMessage);
    for (const closer of closers) closer();
  };
  channel.on('message', onMessage);
  channel.on('disconnect', shut);
  return {
    send(message) {
      if (!open || channel.connected === false) return;
      // Throws when the message cannot be serialised (the caller fails that message alone).
      const bytes = message instanceof EncodedMessage ? message.bytes : serialize(message);
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
      // What was sent before the close still leaves, as it did before frames were batched.
      flush();
      shut();
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
