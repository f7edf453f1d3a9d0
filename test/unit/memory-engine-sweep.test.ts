import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { KEEP_WITHOUT_POLICY_MS } from '../../src/engine/retention.js';
import { eventually } from '../support/cluster.js';

const POLICY = { size: 10, ttlMs: 60_000 };
const engines: MemoryEngine[] = [];

async function open(sweepIntervalMs?: number): Promise<MemoryEngine> {
  const engine = new MemoryEngine(sweepIntervalMs === undefined ? {} : { sweepIntervalMs });
  await engine.start(() => {});
  engines.push(engine);
  return engine;
}

afterEach(async () => {
  vi.useRealTimers();
  for (const e of engines.splice(0)) await e.close();
});

describe('MemoryEngine sweep', () => {
  it('forgets 10 000 idle channels, each after its own retention, and memory is back to 0', async () => {
    const engine = await open();
    const start = Date.now();
    const N = 10_000;
    for (let i = 0; i < N; i += 1) {
      const channel = `room:${i}`;
      // A third each: published to, read, only asked for their position (policy unknown).
      if (i % 3 === 0) await engine.publish({ channel, data: i, history: POLICY });
      else if (i % 3 === 1) await engine.history(channel, {}, POLICY);
      else await engine.position(channel);
    }
    const touched = Date.now();
    expect(engine.sizes().streams).toBe(N);
    engine.sweep(start + 2 * POLICY.ttlMs - 1);
    expect(engine.sizes().streams).toBe(N);
    engine.sweep(touched + 2 * POLICY.ttlMs + 1);
    expect(engine.sizes().streams).toBe(Math.floor(N / 3));
    engine.sweep(touched + KEEP_WITHOUT_POLICY_MS + 1);
    expect(engine.sizes().streams).toBe(0);
  });

  it('counts reads as use: a channel read since its last publication is kept longer', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const t0 = Date.now();
    const engine = await open();
    const pub = await engine.publish({ channel: 'chat:a', data: 1, history: POLICY });
    vi.setSystemTime(t0 + 100_000);
    await engine.history('chat:a', {}, POLICY);
    engine.sweep(t0 + 2 * POLICY.ttlMs + 1);
    expect(await engine.position('chat:a')).toEqual({ epoch: pub.epoch, offset: 1 });
    engine.sweep(Date.now() + 2 * POLICY.ttlMs + 1);
    expect(engine.sizes().streams).toBe(0);
  });

  it('never forgets a channel with a local subscriber', async () => {
    const engine = await open();
    const pub = await engine.publish({ channel: 'chat:a', data: 1, history: POLICY });
    await engine.subscribe('chat:a');
    engine.sweep(Date.now() + 10 * POLICY.ttlMs);
    expect(await engine.position('chat:a')).toEqual({ epoch: pub.epoch, offset: 1 });
    await engine.unsubscribe('chat:a');
    engine.sweep(Date.now() + 10 * POLICY.ttlMs);
    expect(engine.sizes().streams).toBe(0);
  });

  it('drops expired presence members and their channel', async () => {
    // A frozen clock: on a loaded machine a millisecond passes between the add and the sweep.
    vi.useFakeTimers({ toFake: ['Date'] });
    const engine = await open();
    await engine.presenceAdd('chat:a', { client: 'c-1', connectedAt: 1 }, 1_000);
    await engine.presenceAdd('chat:b', { client: 'c-2', connectedAt: 1 });
    engine.sweep(Date.now() + 999);
    expect(engine.sizes().presenceChannels).toBe(2);
    engine.sweep(Date.now() + 1_001);
    expect(engine.sizes().presenceChannels).toBe(1);
    await engine.presenceRemove('chat:b', 'c-2');
    expect(engine.sizes().presenceChannels).toBe(0);
  });

  it('sweeps on its own timer once started', async () => {
    const engine = await open(10);
    await engine.publish({ channel: 'chat:a', data: 1, history: { size: 10, ttlMs: 5 } });
    await engine.presenceAdd('chat:a', { client: 'c-1', connectedAt: 1 }, 5);
    await eventually('the timer to sweep', async () => {
      const sizes = engine.sizes();
      return sizes.streams === 0 && sizes.presenceChannels === 0;
    });
  });
});
