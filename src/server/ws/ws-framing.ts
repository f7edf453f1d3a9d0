import type { Frame } from '../../hub/frame.js';

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;

/**
 * The complete bytes of an unmasked, unfragmented server-to-client WebSocket frame
 * (RFC 6455 §5.2): header and payload in one buffer, so each subscriber costs one write.
 */
export function encodeWsFrame(frame: Frame): Buffer {
  const payload = frame.payload;
  const length = payload.byteLength;
  const headerLength = length < 126 ? 2 : length <= 0xffff ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLength + length);
  out[0] = 0x80 | (frame.binary ? OPCODE_BINARY : OPCODE_TEXT);
  if (length < 126) {
    out[1] = length;
  } else if (length <= 0xffff) {
    out[1] = 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(out, headerLength);
  return out;
}

/** The framed bytes of `frame`, computed on first use and shared by every subscriber. */
export function wireBytes(frame: Frame): Uint8Array {
  let wire = frame.wire;
  if (wire === undefined) {
    wire = encodeWsFrame(frame);
    frame.wire = wire;
  }
  return wire;
}
