import { describe, expect, it } from 'vitest';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { Publication } from '../../src/engine/types.js';
import { Frame } from '../../src/hub/frame.js';
import { type Encoder, Hub } from '../../src/hub/hub.js';
import { anonymousPrincipal } from '../../src/hub/principal.js';
import type { Session } from '../../src/hub/session.js';

function fakeSession(id: string) {
  const frames: Frame[] = [];
  const session: Session = {
    id,
    endpoint: 'test',
    remoteAddress: '',
    connectedAt: new Date(),
    user: undefined,
    principal: anonymousPrincipal(),
    bufferedAmount: 0,
    isOpen: true,
    send: (f) => {
      frames.push(f);
      return true;
    },
    close: () => {},
    reauthenticate: () => {},
  };
  return { session, frames };
}

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
