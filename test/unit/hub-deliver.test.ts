import { describe, expect, it } from 'vitest';
import { plainTextEncoder } from '../../src/endpoints/encoders.js';
import { rtMessageEncoder } from '../../src/endpoints/rt/encoders.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { encodePayload } from '../../src/engine/redis/codec.js';
import type { Publication } from '../../src/engine/types.js';
import type { Frame } from '../../src/hub/frame.js';
import { Hub } from '../../src/hub/hub.js';
import { WirehubError } from '../../src/protocol/index.js';
import type { Logger } from '../../src/util/logger.js';
import { fakeSession } from '../support/fake-session.js';

/** The payloads a fake session received, as text. */
const texts = (frames: readonly Frame[]) => frames.map((f) => f.payload.toString());

function recordingLog() {
  const errors: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const log: Logger = {
    debug() {},
    info() {},
    warn() {},
    error(obj, msg) {
      errors.push({ obj: obj as Record<string, unknown>, msg });
    },
  };
  return { log, errors };
}

/** Nested past what JSON.stringify can serialise: only code on the server can publish it now. */
function tooDeep(): unknown {
  let value: unknown[] = [];
  for (let i = 0; i < 20_000; i += 1) value = [value];
  return value;
}

/** Lets the memory engine's delivery microtasks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Hub.deliver with a publication that cannot be encoded', () => {
  it('skips it for that encoder only, logs once with the channel, counts it, and goes on', async () => {
    const { log, errors } = recordingLog();
    const hub = new Hub(new MemoryEngine(), { namespaces: [{ pattern: 'chat:*' }], log });
    await hub.start();
    const plainA = fakeSession('plain-a');
    const plainB = fakeSession('plain-b');
    const rt = fakeSession('rt');
    const picky = fakeSession('picky');
    // An encoder that cannot encode numbers (as JSON cannot encode a BigInt).
    const pickyEncoder = {
      name: 'picky',
      encode: (pub: Publication) => {
        if (typeof pub.data === 'number') throw new TypeError('no numbers');
        return plainTextEncoder.encode(pub);
      },
    };
    await hub.subscribe('chat:x', { session: plainA.session, encoder: plainTextEncoder });
    await hub.subscribe('chat:x', { session: plainB.session, encoder: plainTextEncoder });
    await hub.subscribe('chat:x', { session: rt.session, encoder: rtMessageEncoder });
    await hub.subscribe('chat:x', { session: picky.session, encoder: pickyEncoder });

    await hub.publish({ channel: 'chat:x', data: 'before' });
    await hub.publish({ channel: 'chat:x', data: tooDeep() });
    await hub.publish({ channel: 'chat:x', data: 7 });
    await hub.publish({ channel: 'chat:x', data: 'after' });
    await settle();

    expect(texts(plainA.frames)).toEqual(['before', '7', 'after']);
    expect(texts(plainB.frames)).toEqual(['before', '7', 'after']);
    expect(texts(rt.frames).map((f) => (JSON.parse(f) as { data: unknown }).data)).toEqual([
      'before',
      7,
      'after',
    ]);
    expect(texts(picky.frames)).toEqual(['before', 'after']);
    // The deep one failed for three encoders, the number for one: one log line each.
    expect(hub.counters.encodeFailures).toBe(4);
    expect(errors).toHaveLength(4);
    expect(errors[0]?.obj).toMatchObject({ channel: 'chat:x', encoder: 'plain' });
    expect(errors.map((e) => e.obj.encoder).sort()).toEqual(['picky', 'picky', 'plain', 'rt-message'].sort());
    await hub.close();
  });

  it('skips a subscriber whose delivery throws, and delivers to the others', async () => {
    const { log, errors } = recordingLog();
    const hub = new Hub(new MemoryEngine(), { namespaces: [{ pattern: 'chat:*' }], log });
    await hub.start();
    const broken = fakeSession('broken', () => {
      throw new Error('socket exploded');
    });
    const fine = fakeSession('fine');
    await hub.subscribe('chat:y', { session: broken.session, encoder: plainTextEncoder });
    await hub.subscribe('chat:y', { session: fine.session, encoder: plainTextEncoder });
    await hub.publish({ channel: 'chat:y', data: 'one' });
    await hub.publish({ channel: 'chat:y', data: 'two' });
    await settle();
    expect(texts(fine.frames)).toEqual(['one', 'two']);
    expect(hub.counters.deliveryFailures).toBe(2);
    expect(errors[0]?.obj).toMatchObject({ channel: 'chat:y', session: 'broken' });
    await hub.close();
  });
});

describe('the Redis codec', () => {
  const pub = (data: unknown): Publication => ({ id: 'n-1.1', channel: 'chat:x', data, at: 0 });

  it('turns data JSON cannot hold into catalog errors, not a 500', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const errorOf = (data: unknown) => {
      try {
        encodePayload(pub(data));
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(errorOf(tooDeep())).toMatchObject({ code: 'json_too_deep', status: 400 });
    expect(errorOf(cycle)).toMatchObject({ code: 'invalid_message', status: 400 });
    expect(errorOf(12n)).toBeInstanceOf(WirehubError);
    expect(encodePayload(pub({ ok: true }))).toBe('{"i":"n-1.1","t":0,"d":{"ok":true}}');
  });
});
