import { deserialize, serialize } from 'node:v8';

/**
 * How a message crosses between the processes of one server:
 * - `v8`: structured serialisation (Maps, undefined in arrays, Dates, buffers survive);
 * - `json`: JSON text, 3–4× cheaper to make and to read than `v8.serialize` for the small
 *   objects of the hot path (a publish call, its answer, a publication pushed to a worker).
 *   Only for values that are JSON already, such as publications (whose data every store and
 *   every client frame carries as JSON anyway).
 */
export type FrameFormat = 'v8' | 'json';

/** The first byte of a frame says how the rest is encoded. */
const TAG_V8 = 0x56; // 'V'
const TAG_JSON = 0x4a; // 'J'

/**
 * One message as the bytes of one frame: a format tag, then the message. Throws when it cannot
 * be encoded (a function or a symbol for `v8`; a cycle or a BigInt for `json`), so the caller
 * fails that message alone.
 */
export function encodeFrame(message: unknown, format: FrameFormat): Uint8Array {
  if (format === 'json') {
    const text = JSON.stringify(message);
    if (text === undefined) throw new TypeError('the message has no JSON form');
    const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
    bytes[0] = TAG_JSON;
    bytes.write(text, 1);
    return bytes;
  }
  const body = serialize(message);
  const bytes = Buffer.allocUnsafe(1 + body.byteLength);
  bytes[0] = TAG_V8;
  bytes.set(body, 1);
  return bytes;
}

/** The message of one frame; throws when the frame is damaged or of no known format. */
export function decodeFrame(frame: Uint8Array): unknown {
  const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  switch (bytes[0]) {
    case TAG_JSON:
      return JSON.parse(bytes.toString('utf8', 1));
    case TAG_V8:
      return deserialize(bytes.subarray(1));
    default:
      throw new Error('not a wirehub frame');
  }
}

/** Each frame of a packed batch is preceded by its length. */
const LENGTH_BYTES = 4;

/** Frames as one buffer: each one's length (u32 LE), then its bytes. */
export function pack(frames: readonly Uint8Array[], bytes: number): Buffer {
  const packed = Buffer.allocUnsafe(bytes + frames.length * LENGTH_BYTES);
  let at = 0;
  for (const frame of frames) {
    packed.writeUInt32LE(frame.byteLength, at);
    packed.set(frame, at + LENGTH_BYTES);
    at += LENGTH_BYTES + frame.byteLength;
  }
  return packed;
}

/**
 * Reassembles length-prefixed frames from a byte stream cut anywhere (a socket's chunks).
 * A frame split over many chunks is copied once, when its last byte is in, not once per chunk.
 * A length over `maxFrameBytes` means the stream is not ours or is damaged: `push` throws,
 * and the stream cannot be read any further.
 */
export class FrameReader {
  /** Chunks (or their tails) not yet made into frames, and their total size. */
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Adds a chunk; calls `each` with every frame it completes, in order. */
  push(chunk: Buffer, each: (frame: Buffer) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    for (;;) {
      if (this.buffered < LENGTH_BYTES) return;
      const head = this.head(LENGTH_BYTES);
      const length = head.readUInt32LE(0);
      if (length > this.maxFrameBytes)
        throw new Error(`a frame of ${length} bytes is over the limit of ${this.maxFrameBytes}`);
      if (this.buffered < LENGTH_BYTES + length) return;
      const whole = this.head(LENGTH_BYTES + length);
      this.drop(LENGTH_BYTES + length);
      each(whole.subarray(LENGTH_BYTES));
    }
  }

  /** The first `n` buffered bytes as one buffer (joining chunks only when the first is short). */
  private head(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.byteLength >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private drop(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.chunks[0] as Buffer;
      if (first.byteLength > left) {
        this.chunks[0] = first.subarray(left);
        break;
      }
      this.chunks.shift();
      left -= first.byteLength;
    }
    this.buffered -= n;
  }
}
