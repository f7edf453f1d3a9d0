import type { Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EngineHost } from '../../src/engine/ipc/engine-host.js';
import { decodeFrame, encodeFrame, FrameReader, pack } from '../../src/engine/ipc/frame-codec.js';
import { IpcEngine } from '../../src/engine/ipc/ipc-engine.js';
import { encodeMessage, type IpcPort, streamPort } from '../../src/engine/ipc/port.js';
import { RpcPeer } from '../../src/engine/ipc/rpc.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { Publication } from '../../src/engine/types.js';
import { WirehubError } from '../../src/protocol/errors.js';
import { socketPair } from '../support/socket-pair.js';

const open: Socket[] = [];
afterEach(() => {
  for (const socket of open.splice(0)) socket.destroy();
});

/** A real socket pair, with the sender's writes counted (one per batch). */
async function pair(): Promise<{ a: Socket; b: Socket; writes: () => number }> {
  const [a, b] = await socketPair();
  open.push(a, b);
  let writes = 0;
  const write = a.write.bind(a) as (chunk: Uint8Array) => boolean;
  a.write = ((chunk: Uint8Array) => {
    writes += 1;
    return write(chunk);
  }) as typeof a.write;
  return { a, b, writes: () => writes };
}

/** Resolves once `n` messages have arrived on `port`. */
function collect(port: IpcPort, n: number): Promise<unknown[]> {
  const got: unknown[] = [];
  return new Promise((resolve) => {
    port.onMessage((m) => {
      got.push(m);
      if (got.length === n) resolve(got);
    });
  });
}

function lengthOf(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

const framed = (bytes: Uint8Array) => Buffer.concat([lengthOf(bytes.byteLength), bytes]);

describe('frame codec', () => {
  it('v8 frames keep what JSON cannot; JSON frames carry JSON values', () => {
    const value = { m: new Map([[1, 'a']]), u: [undefined, 2], d: new Date(5) };
    expect(decodeFrame(encodeFrame(value, 'v8'))).toEqual(value);
    const json = { id: 'p1', data: { text: 'héllo ✓', n: [1, 2.5, null, true] }, at: 7 };
    expect(decodeFrame(encodeFrame(json, 'json'))).toEqual(json);
  });

  it('refuses what it cannot encode, and bytes that are no frame of ours', () => {
    expect(() => encodeFrame({ n: 1n }, 'json')).toThrow();
    expect(() => encodeFrame(undefined, 'json')).toThrow();
    expect(() => encodeFrame({ f: () => 1 }, 'v8')).toThrow();
    expect(() => decodeFrame(Buffer.from('{"k":1}'))).toThrow('not a wirehub frame');
    expect(() => decodeFrame(Buffer.from([0x4a, 0x7b]))).toThrow();
  });

  it('a frame reader gives back every frame however the stream is cut (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
        (frames, cuts) => {
          const stream = pack(
            frames,
            frames.reduce((n, f) => n + f.byteLength, 0),
          );
          const reader = new FrameReader(1_000);
          const out: Uint8Array[] = [];
          let at = 0;
          for (let i = 0; at < stream.byteLength; i += 1) {
            const size = cuts[i % cuts.length] as number;
            reader.push(stream.subarray(at, at + size), (f) => out.push(Uint8Array.from(f)));
            at += size;
          }
          expect(out).toEqual(frames.map((f) => Uint8Array.from(f)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a frame reader refuses a length over its limit', () => {
    const reader = new FrameReader(10);
    expect(() => reader.push(lengthOf(11), () => {})).toThrow('over the limit');
  });
});

describe('streamPort', () => {
  it('sends the frames of one turn as one write, in order', async () => {
    const { a, b, writes } = await pair();
    const sender = streamPort(a);
    const received = collect(streamPort(b), 100);
    for (let i = 0; i < 100; i += 1) sender.send({ i });
    expect(await received).toEqual(Array.from({ length: 100 }, (_, i) => ({ i })));
    expect(writes()).toBe(1);
  });

  it('bounds a batch: a burst leaves in several writes', async () => {
    const { a, b, writes } = await pair();
    const sender = streamPort(a);
    const received = collect(streamPort(b), 1_300);
    for (let i = 0; i < 1_300; i += 1) sender.send(i);
    expect(await received).toEqual(Array.from({ length: 1_300 }, (_, i) => i));
    expect(writes()).toBe(3);
  });

  it('carries a frame larger than a socket chunk whole', async () => {
    const { a, b } = await pair();
    const big = 'x'.repeat(3 * 1024 * 1024);
    const received = collect(streamPort(b), 2);
    const sender = streamPort(a);
    sender.send({ big });
    sender.send(encodeMessage({ big, n: 2 }, 'json'));
    expect(await received).toEqual([{ big }, { big, n: 2 }]);
  });

  it('a lone frame leaves without waiting for a timer', async () => {
    const { a, b } = await pair();
    // Timers frozen: a flush on setTimeout would never run, one on setImmediate does.
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    try {
      const got = collect(streamPort(b), 1);
      streamPort(a).send('ping');
      expect(await got).toEqual(['ping']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a frame that cannot be encoded throws at send and the rest of the batch still goes', async () => {
    const { a, b } = await pair();
    const sender = streamPort(a);
    const received = collect(streamPort(b), 2);
    sender.send('first');
    expect(() => sender.send({ fn: () => 1 })).toThrow();
    expect(() => sender.send(encodeMessage({ n: 1n }, 'json'))).toThrow();
    sender.send('second');
    expect(await received).toEqual(['first', 'second']);
  });

  it('closes when the other end goes, and sends nothing after', async () => {
    const { a, b, writes } = await pair();
    const sender = streamPort(a);
    const closed = new Promise<void>((resolve) => sender.onClose(resolve));
    b.destroy();
    await closed;
    sender.send('after');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes()).toBe(0);
  });

  it('close() still sends what was queued before it, and the other end sees the close', async () => {
    const { a, b } = await pair();
    const sender = streamPort(a);
    const receiver = streamPort(b);
    const received = collect(receiver, 1);
    const otherClosed = new Promise<void>((resolve) => receiver.onClose(resolve));
    sender.send('last words');
    sender.close();
    expect(await received).toEqual(['last words']);
    await otherClosed;
  });

  it('skips a damaged frame without throwing, and keeps the others', async () => {
    const { a, b } = await pair();
    const got = collect(streamPort(b), 3);
    const good = encodeFrame('kept', 'v8');
    a.write(
      Buffer.concat([
        framed(good),
        framed(Buffer.from([0x56, 0xff, 0x0f, 0x99])), // v8 tag, damaged body
        framed(Buffer.from('{"no":"tag"}')),
        framed(Buffer.from([0x4a, 0x7b])), // JSON tag, truncated text
        framed(good),
        framed(encodeFrame({ json: true }, 'json')),
      ]),
    );
    expect(await got).toEqual(['kept', 'kept', { json: true }]);
  });

  it('a length no frame of ours has ends the link instead of buffering without bound', async () => {
    const { a, b } = await pair();
    const receiver = streamPort(b);
    const closed = new Promise<void>((resolve) => receiver.onClose(resolve));
    a.write(Buffer.concat([framed(encodeFrame('fine', 'v8')), lengthOf(0xffffffff)]));
    await closed;
  });

  it('gives up on an other end that stops reading, instead of holding what it is sent without bound', async () => {
    const { a, b } = await pair();
    b.pause(); // a process that no longer reads its link (stuck, or stopped)
    const sender = streamPort(a, { maxBacklogBytes: 1024 * 1024 });
    const closed = new Promise<void>((resolve) => sender.onClose(resolve));
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    while (!a.destroyed && sent < 1_000) {
      sender.send(encodeMessage({ chunk }, 'json'));
      sent += 1;
      // One batch per turn, as under load.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await closed;
    expect(a.destroyed).toBe(true);
    // Well before 1,000 × 64 KB: the kernel's socket buffers, then the 1 MB allowed here.
    expect(sent).toBeLessThan(200);
  });

  it('keeps a link whose other end reads, however much crosses it', async () => {
    const { a, b } = await pair();
    const sender = streamPort(a, { maxBacklogBytes: 2 * 1024 * 1024 });
    const received = collect(streamPort(b), 200);
    const chunk = 'y'.repeat(64 * 1024);
    // 12.8 MB in all, through a link that may hold 2 MB unread: the reader keeps up.
    for (let i = 0; i < 200; i += 1) {
      sender.send(encodeMessage({ i, chunk }, 'json'));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await received).length).toBe(200);
    expect(a.destroyed).toBe(false);
  });

  it('a call fails instead of hanging when the link goes with it in flight', async () => {
    const { a, b } = await pair();
    const caller = new RpcPeer(streamPort(a), () => new Error('gone'));
    new RpcPeer(streamPort(b), () => new Error('gone')).serve('svc', {
      never: () => new Promise(() => {}),
    });
    const call = caller.call('svc', 'never', []);
    b.destroy();
    await expect(call).rejects.toThrow('gone');
  });

  it('keeps the order of pushes and answers over an RPC peer', async () => {
    const { a, b, writes } = await pair();
    const server = new RpcPeer(streamPort(a), () => new Error('gone'));
    const client = new RpcPeer(streamPort(b), () => new Error('gone'));
    const seen: string[] = [];
    client.onPush('svc', (event, args) => seen.push(`${event} ${args[0]}`));
    server.serve('svc', {
      work: async (n: number) => {
        server.push('svc', 'event', [n]);
        return n;
      },
    });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        client.call<number>('svc', 'work', [n], n % 2 === 0 ? 'json' : 'v8').then((v) => {
          seen.push(`answer ${v}`);
          return v;
        }),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 20 }, (_, n) => n));
    // Each answer follows the push its call made.
    for (let n = 0; n < 20; n += 1) {
      expect(seen).toContain(`event ${n}`);
      expect(seen.indexOf(`answer ${n}`)).toBeGreaterThan(seen.indexOf(`event ${n}`));
    }
    // 20 calls in one turn: few writes for the pushes and answers.
    expect(writes()).toBeLessThanOrEqual(3);
  });

  it('a JSON call answers as JSON; what JSON cannot carry fails that call alone', async () => {
    const { a, b } = await pair();
    const caller = new RpcPeer(streamPort(a), () => new Error('gone'));
    new RpcPeer(streamPort(b), () => new Error('gone')).serve('svc', {
      echo: (x: unknown) => x,
      big: () => ({ n: 1n }),
      date: () => new Date(0),
      fail: () => {
        throw new WirehubError('not_found', 'no such thing', { id: 'x' });
      },
    });
    await expect(caller.call('svc', 'echo', [{ n: 1n }], 'json')).rejects.toMatchObject({
      code: 'invalid_message',
    });
    await expect(caller.call('svc', 'big', [], 'json')).rejects.toMatchObject({ code: 'invalid_message' });
    // JSON's own shape of a Date, as any client would get it.
    expect(await caller.call('svc', 'date', [], 'json')).toBe('1970-01-01T00:00:00.000Z');
    expect(await caller.call('svc', 'date', [], 'v8')).toEqual(new Date(0));
    // Errors keep their code and details whatever the call's format.
    await expect(caller.call('svc', 'fail', [], 'json')).rejects.toMatchObject({
      code: 'not_found',
      details: { id: 'x' },
    });
    expect(await caller.call('svc', 'echo', [{ ok: [1, 'two'] }], 'json')).toEqual({ ok: [1, 'two'] });
  });

  it('sends one encoded message on several ports: each gets it, encoded once', async () => {
    const one = await pair();
    const two = await pair();
    const got1 = collect(streamPort(one.b), 1);
    const got2 = collect(streamPort(two.b), 1);
    const encoded = encodeMessage({ k: 'push', a: [{ channel: 'x', data: [1, 'two'] }] }, 'json');
    const bytes = encoded.bytes;
    streamPort(one.a).send(encoded);
    streamPort(two.a).send(encoded);
    expect(encoded.bytes).toBe(bytes);
    expect(await got1).toEqual([{ k: 'push', a: [{ channel: 'x', data: [1, 'two'] }] }]);
    expect(await got2).toEqual(await got1);
  });

  it('an engine host forwards each publication once to every worker with subscribers, in order', async () => {
    const host = new EngineHost(new MemoryEngine());
    await host.start();
    const workers = await Promise.all(
      [0, 1, 2].map(async () => {
        const link = await pair();
        host.attach(new RpcPeer(streamPort(link.a), () => new Error('worker gone')));
        return {
          link,
          engine: new IpcEngine(new RpcPeer(streamPort(link.b), () => new Error('gone'))),
        };
      }),
    );
    const seen = workers.map(() => [] as unknown[]);
    for (const [i, w] of workers.entries())
      await w.engine.start((pub: Publication) => seen[i]?.push(pub.data));
    const [first, second, third] = workers;
    await first?.engine.subscribe('room');
    await second?.engine.subscribe('room');
    const writesBefore = third?.link.writes();
    for (let n = 0; n < 50; n += 1) void first?.engine.publish({ channel: 'room', data: { n } });
    const last = await first?.engine.publish({ channel: 'room', data: { n: 50, s: 'é' } });
    expect(last).toMatchObject({ channel: 'room', data: { n: 50, s: 'é' } });
    await new Promise((resolve) => setImmediate(resolve));
    const expected = [...Array.from({ length: 50 }, (_, n) => ({ n })), { n: 50, s: 'é' }];
    expect(seen[0]).toEqual(expected);
    expect(seen[1]).toEqual(expected);
    expect(seen[2]).toEqual([]); // not subscribed: nothing crosses to it
    expect(third?.link.writes()).toBe(writesBefore);
    await host.close();
  });
});
