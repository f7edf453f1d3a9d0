import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { PublishInput } from '../../src/engine/types.js';
import type { Namespace } from '../../src/hub/namespaces.js';
import { type PresenceEvent, PresenceKeeper } from '../../src/hub/presence.js';

const D = 1_000;
const ns: Namespace = {
  pattern: 'chat:*',
  history: undefined,
  presence: true,
  joinLeave: true,
  joinLeaveDebounceMs: D,
  publish: 'anyone',
  overflow: 'disconnect',
};

/** A keeper over an in-memory engine whose publish calls are recorded with their time. */
function keeper() {
  const engine = new MemoryEngine();
  const published: { at: number; event: PresenceEvent }[] = [];
  const real = engine.publish.bind(engine);
  engine.publish = (input: PublishInput) => {
    published.push({ at: Date.now(), event: input.data as PresenceEvent });
    return real(input);
  };
  const k = new PresenceKeeper(engine, 60_000, (err) => {
    throw err;
  });
  return { k, published };
}

const member = (n: number) => ({ client: `c-${n}`, connectedAt: 0 });

describe('PresenceKeeper announcement windows', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(10 * D); // a window boundary
  });
  afterEach(() => vi.useRealTimers());

  it('announces the joins of one window together, d to 2d after each, in the order they happened', async () => {
    vi.setSystemTime(10 * D + 10); // just inside a window
    const { k, published } = keeper();
    for (let n = 0; n < 30; n += 1) {
      await k.join('chat:a', ns, member(n));
      await vi.advanceTimersByTimeAsync(30); // spread over 870 ms of that window
    }
    expect(published).toEqual([]);
    await vi.advanceTimersByTimeAsync(2 * D);
    expect(published.map((p) => p.event.client)).toEqual(Array.from({ length: 30 }, (_, n) => `c-${n}`));
    // All at the end of the window after theirs, together (one by one, each went 1 s after it).
    expect(new Set(published.map((p) => p.at))).toEqual(new Set([12 * D]));
  });

  it('a leave and a rejoin inside the window announce nothing; a join then a leave neither', async () => {
    const { k, published } = keeper();
    await k.join('chat:a', ns, member(1));
    await vi.advanceTimersByTimeAsync(3 * D);
    expect(published.map((p) => `${p.event.op} ${p.event.client}`)).toEqual(['join c-1']);
    await k.leave('chat:a', ns, member(1));
    await k.join('chat:a', ns, member(1));
    await k.join('chat:a', ns, member(2));
    await k.leave('chat:a', ns, member(2));
    await vi.advanceTimersByTimeAsync(3 * D);
    expect(published).toHaveLength(1);
  });

  it('every event is announced once, at least d and less than 2d after it, whatever the timing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2_500 }), fc.integer({ min: 0, max: 40 })), {
          minLength: 1,
          maxLength: 40,
        }),
        async (steps) => {
          vi.setSystemTime(10 * D);
          const { k, published } = keeper();
          const joinedAt = new Map<string, number>();
          for (const [wait, n] of steps) {
            await vi.advanceTimersByTimeAsync(wait);
            const c = `c-${n}-${joinedAt.size}`; // each join a new client: no cancelling here
            joinedAt.set(c, Date.now());
            await k.join('chat:a', ns, { client: c, connectedAt: 0 });
          }
          await vi.advanceTimersByTimeAsync(2 * D);
          expect(published.map((p) => p.event.client).sort()).toEqual([...joinedAt.keys()].sort());
          for (const p of published) {
            const delay = p.at - (joinedAt.get(p.event.client) as number);
            expect(delay).toBeGreaterThanOrEqual(D);
            expect(delay).toBeLessThan(2 * D);
          }
          k.stop();
        },
      ),
      { numRuns: 60 },
    );
  });
});
