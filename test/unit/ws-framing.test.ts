import { describe, expect, it } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import { encodeWsFrame } from '../../src/server/ws/ws-framing.js';

// ws's own frame parser (untyped in @types/ws), as a client would use it.
const { Receiver } = (await import('ws' as string)) as {
  Receiver: new (opts: object) => NodeJS.EventEmitter & { write(b: Buffer): void };
};

/** Parses our frames with ws's receiver. */
function parse(bytes: Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false, maxPayload: 0 });
    receiver.on('message', (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }));
    receiver.on('error', reject);
    receiver.write(bytes);
  });
}

describe('encodeWsFrame', () => {
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 200_000]) {
    it(`frames a ${size}-byte text payload that a client parses back`, async () => {
      const payload = 'é'.repeat(Math.floor(size / 2)) + 'a'.repeat(size % 2);
      const got = await parse(encodeWsFrame(Frame.text(payload)));
      expect(got.isBinary).toBe(false);
      expect(got.data.toString()).toBe(payload);
    });
  }

  it('frames binary payloads with the binary opcode', async () => {
    const got = await parse(encodeWsFrame(Frame.binary(Buffer.from([0, 255, 7]))));
    expect(got.isBinary).toBe(true);
    expect([...got.data]).toEqual([0, 255, 7]);
  });
});
