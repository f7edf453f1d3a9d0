import { describe, expect, it, vi } from 'vitest';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { Publication } from '../../src/engine/types.js';
import { Frame } from '../../src/hub/frame.js';
import { type Encoder, Hub } from '../../src/hub/hub.js';
import { fakeSession } from '../support/fake-session.js';

function countingEncoder(name: string) {
  const calls: Publication[] = [];
  const encoder: Encoder = {
    name,
    encode: (pub) => {
      calls.push(pub);
      return Frame.text(`${name}:${String(pub.data)}`);
    },
  };
  return { encoder, calls };
}

/** A hub whose namespaces are the plain channel names these tests use. */
function testHub(): Hub {
  return new Hub(new MemoryEngine(), {
    namespaces: [{ pattern: 'room' }, { pattern: 'x' }, { pattern: 'chat' }],
  });
}

async function delivered(hub: Hub, channel: string, data: unknown, client = 'c-pub') {
  const pub = await hub.publish({ channel, data, from: { client } });
  // The memory engine delivers in a microtask after publish resolves.
  await Promise.resolve();
  return pub;
}

describe('Hub fan-out', () => {
  it('encodes once per encoder and hands every subscriber the same Frame', async () => {
    const hub = testHub();
    await hub.start();
    const plain = countingEncoder('plain');
    const rt = countingEncoder('rt');
    const subs = Array.from({ length: 50 }, (_, i) => fakeSession(`c-${i}`));
    for (const [i, s] of subs.entries()) {
      await hub.subscribe('room', { session: s.session, encoder: i % 2 === 0 ? plain.encoder : rt.encoder });
    }
    await delivered(hub, 'room', 'hello');
    expect(plain.calls).toHaveLength(1);
    expect(rt.calls).toHaveLength(1);
    const plainFrames = new Set(subs.filter((_, i) => i % 2 === 0).map((s) => s.frames[0]));
    expect(plainFrames.size).toBe(1);
    expect(subs.every((s) => s.frames.length === 1)).toBe(true);
  });

  it('handles more than two encoders on one channel', async () => {
    const hub = testHub();
    await hub.start();
    const encoders = ['a', 'b', 'c', 'd'].map(countingEncoder);
    const subs = encoders.flatMap((e) => [
      fakeSession(`${e.encoder.name}1`),
      fakeSession(`${e.encoder.name}2`),
    ]);
    for (const [i, s] of subs.entries()) {
      await hub.subscribe('x', {
        session: s.session,
        encoder: (encoders[i >> 1] ?? encoders[0])?.encoder as Encoder,
      });
    }
    await delivered(hub, 'x', 1);
    expect(encoders.map((e) => e.calls.length)).toEqual([1, 1, 1, 1]);
    expect(subs.map((s) => String(s.frames[0]?.payload))).toEqual([
      'a:1',
      'a:1',
      'b:1',
      'b:1',
      'c:1',
      'c:1',
      'd:1',
      'd:1',
    ]);
  });

  it('skips the sender when excludeOwn is set, and stops after unsubscribe', async () => {
    const hub = testHub();
    await hub.start();
    const { encoder } = countingEncoder('p');
    const a = fakeSession('c-a');
    const b = fakeSession('c-b');
    await hub.subscribe('chat', { session: a.session, encoder, excludeOwn: true });
    await hub.subscribe('chat', { session: b.session, encoder, excludeOwn: true });
    await delivered(hub, 'chat', 'from a', 'c-a');
    expect(a.frames).toHaveLength(0);
    expect(b.frames).toHaveLength(1);
    hub.unsubscribe('chat', b.session);
    await delivered(hub, 'chat', 'again', 'c-a');
    expect(b.frames).toHaveLength(1);
    expect(hub.localSubscribers('chat')).toBe(1);
  });
});

describe('Hub.watch (in-process listeners)', () => {
  it('hands every publication to its watchers, skips one that throws, and lets go of the channel when the last one stops', async () => {
    const engine = new MemoryEngine();
    const hub = new Hub(engine);
    await hub.start();
    const seen: unknown[] = [];
    const stopBad = await hub.watch('$t', () => {
      throw new Error('boom');
    });
    const stopGood = await hub.watch('$t', (pub) => seen.push(pub.data));
    await hub.publish({ channel: '$t', data: 1 });
    await hub.publish({ channel: '$t', data: 2 });
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([1, 2]);
    const unsubscribe = vi.spyOn(engine, 'unsubscribe');
    stopBad();
    expect(unsubscribe).not.toHaveBeenCalled();
    stopGood();
    expect(unsubscribe).toHaveBeenCalledWith('$t');
    await hub.publish({ channel: '$t', data: 3 });
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([1, 2]);
    await hub.close();
  });

  it('reports local subscribers and publication rates per channel, and the channels of each session', async () => {
    const hub = new Hub(new MemoryEngine());
    await hub.start();
    const a = fakeSession('a');
    const b = fakeSession('b');
    const { encoder } = countingEncoder('x');
    await hub.subscribe('broadcast', { session: a.session, encoder });
    await hub.subscribe('broadcast', { session: b.session, encoder });
    await hub.subscribe('stream:s', { session: b.session, encoder });
    for (let i = 0; i < 5; i += 1) await hub.publish({ channel: 'broadcast', data: i });
    await new Promise((r) => setImmediate(r));
    const stats = Object.fromEntries(hub.channelStats().map((s) => [s.channel, s]));
    expect(stats.broadcast?.subscribers).toBe(2);
    expect(stats.broadcast?.publicationRate).toBeGreaterThan(0);
    expect(stats['stream:s']).toMatchObject({ subscribers: 1, publicationRate: 0 });
    // A minute later the rate window holds none of them.
    expect(
      hub.channelStats(Date.now() + 60_000).find((s) => s.channel === 'broadcast')?.publicationRate,
    ).toBe(0);
    const bySession = hub.subscriptionsBySession();
    expect(bySession.get(a.session)).toEqual(['broadcast']);
    expect(bySession.get(b.session)?.sort()).toEqual(['broadcast', 'stream:s']);
    await hub.close();
  });
});
