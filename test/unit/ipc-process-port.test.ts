import { EventEmitter } from 'node:events';
import { deserialize, serialize } from 'node:v8';
import { describe, expect, it, vi } from 'vitest';
import { EngineHost } from '../../src/engine/ipc/engine-host.js';
import { IpcEngine } from '../../src/engine/ipc/ipc-engine.js';
import { encodeMessage, type ProcessChannel, processPort } from '../../src/engine/ipc/port.js';
import { RpcPeer } from '../../src/engine/ipc/rpc.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { Publication } from '../../src/engine/types.js';

/**
 * One end of a fake IPC channel as Node's 'advanced' serialisation behaves: every `send` is one
 * channel message, structured-cloned and delivered later (not in the sender's turn).
 */
class FakeChannel extends EventEmitter implements ProcessChannel {
  other?: FakeChannel;
  connected = true;
  readonly sent: unknown[] = [];
  send(message: unknown): boolean {
    this.sent.push(message);
    const copy = deserialize(serialize(message));
    setImmediate(() => this.other?.emit('message', copy));
    return true;
  }
}

function pair(): [FakeChannel, FakeChannel] {
  const a = new FakeChannel();
  const b = new FakeChannel();
  a.other = b;
  b.other = a;
  return [a, b];
}

/** Resolves once `n` messages have arrived on `port`'s listener list. */
function collect(port: ReturnType<typeof processPort>, n: number): Promise<unknown[]> {
  const got: unknown[] = [];
  return new Promise((resolve) => {
    port.onMessage((m) => {
      got.push(m);
      if (got.length === n) resolve(got);
    });
  });
}

describe('processPort batching', () => {
  it('sends the frames of one turn as one channel message, in order', async () => {
    const [a, b] = pair();
    const sender = processPort(a);
    const received = collect(processPort(b), 100);
    for (let i = 0; i < 100; i += 1) sender.send({ i });
    expect(await received).toEqual(Array.from({ length: 100 }, (_, i) => ({ i })));
    expect(a.sent).toHaveLength(1);
  });

  it('bounds a batch: a burst leaves in several channel messages', async () => {
    const [a, b] = pair();
    const sender = processPort(a);
    const received = collect(processPort(b), 1_300);
    for (let i = 0; i < 1_300; i += 1) sender.send(i);
    expect(await received).toEqual(Array.from({ length: 1_300 }, (_, i) => i));
    expect(a.sent).toHaveLength(3);
  });

  it('a lone frame leaves without waiting for a timer', async () => {
    // Timers frozen: a flush on setTimeout would never run, one on setImmediate does.
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    try {
      const [a, b] = pair();
      const got: unknown[] = [];
      processPort(b).onMessage((m) => got.push(m));
      processPort(a).send('ping');
      for (let turn = 0; turn < 10 && got.length === 0; turn += 1)
        await new Promise((resolve) => setImmediate(resolve));
      expect(got).toEqual(['ping']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a frame that cannot be serialised throws at send and the rest of the batch still goes', async () => {
    const [a, b] = pair();
    const sender = processPort(a);
    const received = collect(processPort(b), 2);
    sender.send('first');
    expect(() => sender.send({ fn: () => 1 })).toThrow();
    sender.send('second');
    expect(await received).toEqual(['first', 'second']);
  });

  it('sends nothing once the other end is gone, and drops what was queued', async () => {
    const [a] = pair();
    const sender = processPort(a);
    let closed = false;
    sender.onClose(() => {
      closed = true;
    });
    sender.send('queued');
    a.connected = false;
    a.emit('disconnect');
    sender.send('after');
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
    expect(a.sent).toEqual([]);
  });

  it('close() still sends what was queued before it', async () => {
    const [a, b] = pair();
    const sender = processPort(a);
    const received = collect(processPort(b), 1);
    sender.send('last words');
    sender.close();
    expect(await received).toEqual(['last words']);
  });

  it('a channel that breaks at send fails the calls waiting on it instead of hanging them', async () => {
    const [a, b] = pair();
    a.send = () => {
      throw new Error('channel closed');
    };
    const caller = new RpcPeer(processPort(a), () => new Error('gone'));
    new RpcPeer(processPort(b), () => new Error('gone')).serve('svc', { echo: (x: unknown) => x });
    await expect(caller.call('svc', 'echo', [1])).rejects.toThrow('gone');
  });

  it('keeps the order of pushes and answers over an RPC peer', async () => {
    const [a, b] = pair();
    const server = new RpcPeer(processPort(a), () => new Error('gone'));
    const client = new RpcPeer(processPort(b), () => new Error('gone'));
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
        client.call<number>('svc', 'work', [n]).then((v) => {
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
    // 20 calls in one turn: one channel message each way for the calls, pushes and answers.
    expect(b.sent.length).toBeLessThanOrEqual(2);
    expect(a.sent.length).toBeLessThanOrEqual(3);
  });

  it('packs a batch into one buffer, each frame behind its length', async () => {
    const [a, b] = pair();
    const sender = processPort(a);
    const received = collect(processPort(b), 3);
    sender.send('one');
    sender.send({ two: [2] });
    sender.send(3);
    expect(await received).toEqual(['one', { two: [2] }, 3]);
    expect(a.sent).toHaveLength(1);
    expect((a.sent[0] as { wirehub: unknown }).wirehub).toBeInstanceOf(Uint8Array);
  });

  it('skips a damaged or truncated frame without throwing, and keeps the others', () => {
    const [, b] = pair();
    const got: unknown[] = [];
    processPort(b).onMessage((m) => got.push(m));
    const good = serialize('kept');
    const frame = (bytes: Uint8Array) => Buffer.concat([lengthOf(bytes.byteLength), bytes]);
    const damaged = Buffer.from([0xff, 0x0f, 0x99, 0x01]);
    const packed = Buffer.concat([frame(good), frame(damaged), frame(good), lengthOf(50), Buffer.from([1])]);
    expect(() => b.emit('message', { wirehub: packed })).not.toThrow();
    expect(() => b.emit('message', { wirehub: 'not bytes' })).not.toThrow();
    expect(got).toEqual(['kept', 'kept']);
  });

  it('sends one encoded message on several ports: each gets it, serialised once', async () => {
    const [a1, b1] = pair();
    const [a2, b2] = pair();
    const got1 = collect(processPort(b1), 1);
    const got2 = collect(processPort(b2), 1);
    const encoded = encodeMessage({ k: 'push', a: [{ channel: 'x', data: [1, 'two'] }] });
    processPort(a1).send(encoded);
    processPort(a2).send(encoded);
    expect(await got1).toEqual([{ k: 'push', a: [{ channel: 'x', data: [1, 'two'] }] }]);
    expect(await got2).toEqual(await got1);
  });

  it('an engine host forwards each publication once to every worker with subscribers, in order', async () => {
    const host = new EngineHost(new MemoryEngine());
    await host.start();
    const workers = [pair(), pair(), pair()].map(([primarySide, workerSide]) => {
      host.attach(new RpcPeer(processPort(primarySide), () => new Error('worker gone')));
      return {
        primarySide,
        engine: new IpcEngine(new RpcPeer(processPort(workerSide), () => new Error('gone'))),
      };
    });
    const seen = workers.map(() => [] as unknown[]);
    for (const [i, w] of workers.entries())
      await w.engine.start((pub: Publication) => seen[i]?.push(pub.data));
    const [first, second] = workers;
    await first?.engine.subscribe('room');
    await second?.engine.subscribe('room');
    const sentBefore = workers.map((w) => w.primarySide.sent.length);
    for (let n = 0; n < 50; n += 1) void first?.engine.publish({ channel: 'room', data: { n } });
    await first?.engine.publish({ channel: 'room', data: { n: 50 } });
    await new Promise((resolve) => setImmediate(resolve));
    const expected = Array.from({ length: 51 }, (_, n) => ({ n }));
    expect(seen[0]).toEqual(expected);
    expect(seen[1]).toEqual(expected);
    expect(seen[2]).toEqual([]); // not subscribed: nothing crosses to it
    expect(workers[2]?.primarySide.sent.length).toBe(sentBefore[2]);
    await host.close();
  });
});

function lengthOf(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
