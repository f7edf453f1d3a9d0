/**
 * An outbound message encoded once. Fan-out hands the same Frame to every subscriber; the
 * transport frames it for the wire once too and keeps that in `wire`, so N subscribers cost
 * one JSON.stringify, one UTF-8 encode and one WebSocket header, not N of each.
 */
export class Frame {
  /** Transport-owned cache of the fully framed bytes (opaque to the hub). */
  wire: Uint8Array | undefined;
  /** Transport-owned cache of a text payload as a string (Bun sends text frames from strings). */
  text: string | undefined;

  constructor(
    readonly payload: Buffer,
    readonly binary: boolean,
  ) {}

  static text(text: string): Frame {
    return new Frame(Buffer.from(text, 'utf8'), false);
  }

  static json(value: unknown): Frame {
    return Frame.text(JSON.stringify(value));
  }

  static binary(bytes: Buffer): Frame {
    return new Frame(bytes, true);
  }

  get byteLength(): number {
    return this.payload.byteLength;
  }
}
