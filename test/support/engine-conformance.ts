import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Engine, HistoryPolicy, Publication } from '../../src/engine/types.js';
import { eventually } from './cluster.js';

export interface ConformanceOptions {
  /** Shown in the test names. */
  name: string;
  /**
   * True when closing an engine and opening another on the same store keeps history,
   * offsets and epochs (sqlite, redis). False (memory): the reopened stream must show a new
   * epoch, so clients learn their history is gone.
   */
  durable: boolean;
  /**
   * Runs the engine's idle sweep as if the clock read `now` (embedded engines). Absent when
   * the store expires channels by itself in real time (Redis key TTLs): the test then waits.
   */
  sweep?: (engine: Engine, now: number) => void;
}

/** Opens an engine on `store`, an opaque key: the same key means the same persisted state. */
export type MakeEngine = (store: string) => Engine | Promise<Engine>;

const KEEP: HistoryPolicy = { size: 1000, ttlMs: 60 * 60 * 1000 };

/** An engine started with a handler that records every delivered publication. */
class Harness {
  readonly delivered: Publication[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(readonly engine: Engine) {}

  async start(): Promise<this> {
    await this.engine.start((pub) => {
      this.delivered.push(pub);
      this.waiters = this.waiters.filter((w) => {
        if (this.delivered.length < w.count) return true;
        w.resolve();
        return false;
      });
    });
    return this;
  }

  /** Resolves once `count` publications in total were delivered (event-driven). */
  deliveredCount(count: number): Promise<Publication[]> {
    if (this.delivered.length >= count) return Promise.resolve(this.delivered);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.delivered.length} of ${count} delivered`)),
        5_000,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.delivered);
        },
      });
    });
  }
}

/**
 * The contract every engine (memory, sqlite, redis) meets, as one vitest suite. A new
 * engine plugs in with one call:
 *
 * @example
 * ```ts
 * runEngineConformance((store) => new RedisEngine({ url, prefix: store }), { name: 'redis', durable: true });
 * ```
 */
export function runEngineConformance(makeEngine: MakeEngine, options: ConformanceOptions): void {
  describe(`engine conformance: ${options.name}`, () => {
    const open: Engine[] = [];

    async function start(store = `s${randomBytes(6).toString('hex')}`): Promise<Harness> {
      const engine = await makeEngine(store);
      open.push(engine);
      return new Harness(engine).start();
    }

    async function publishMany(
      engine: Engine,
      channel: string,
      n: number,
      policy = KEEP,
    ): Promise<Publication[]> {
      const out: Publication[] = [];
      for (let i = 1; i <= n; i += 1)
        out.push(await engine.publish({ channel, data: { n: i }, history: policy }));
      return out;
    }

    afterEach(async () => {
      vi.useRealTimers();
      for (const engine of open.splice(0)) await engine.close();
    });

    describe('broker', () => {
      it('delivers the publications of subscribed channels only, in publish order', async () => {
        const h = await start();
        await h.engine.subscribe('chat:a');
        await h.engine.publish({ channel: 'chat:b', data: 'not subscribed' });
        for (let i = 0; i < 20; i += 1) await h.engine.publish({ channel: 'chat:a', data: i });
        const got = await h.deliveredCount(20);
        expect(got.map((p) => p.channel)).toEqual(Array(20).fill('chat:a'));
        expect(got.map((p) => p.data)).toEqual([...Array(20).keys()]);
      });

      it('stops delivering after unsubscribe', async () => {
        const h = await start();
        await h.engine.subscribe('chat:a');
        await h.engine.publish({ channel: 'chat:a', data: 1 });
        await h.deliveredCount(1);
        await h.engine.unsubscribe('chat:a');
        await h.engine.subscribe('chat:b');
        await h.engine.publish({ channel: 'chat:a', data: 2 });
        await h.engine.publish({ channel: 'chat:b', data: 3 });
        const got = await h.deliveredCount(2);
        expect(got.map((p) => p.data)).toEqual([1, 3]);
      });

      it('keeps data and origin intact and mints unique ids', async () => {
        const h = await start();
        await h.engine.subscribe('chat:a');
        const values: unknown[] = ['text ✓ ünï', { nested: { list: [1, 'two', null, true] } }, 42, null, ''];
        for (const data of values) {
          await h.engine.publish({
            channel: 'chat:a',
            data,
            from: { client: 'c-1', user: 'alice' },
            history: KEEP,
          });
        }
        const got = await h.deliveredCount(values.length);
        expect(got.map((p) => p.data)).toEqual(values);
        expect(got.every((p) => p.from?.client === 'c-1' && p.from.user === 'alice')).toBe(true);
        expect(new Set(got.map((p) => p.id)).size).toBe(values.length);
        const history = await h.engine.history('chat:a', {}, KEEP);
        expect(history.publications.map((p) => p.data)).toEqual(values);
        expect(history.publications[0]?.from).toEqual({ client: 'c-1', user: 'alice' });
      });

      it('assigns no offset to channels without history', async () => {
        const h = await start();
        const pub = await h.engine.publish({ channel: 'broadcast', data: 'x' });
        expect(pub.offset).toBeUndefined();
        expect(pub.epoch).toBeUndefined();
      });
    });

    describe('store: offsets and epochs', () => {
      it('starts an empty stream at offset 0 with an epoch', async () => {
        const h = await start();
        const pos = await h.engine.position('chat:new');
        expect(pos.offset).toBe(0);
        expect(pos.epoch).toMatch(/.+/);
        expect(await h.engine.position('chat:new')).toEqual(pos);
      });

      it('numbers publications 1, 2, 3 … per channel within one epoch, with no gap', async () => {
        const h = await start();
        const a = await publishMany(h.engine, 'chat:a', 5);
        const b = await publishMany(h.engine, 'chat:b', 3);
        expect(a.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
        expect(b.map((p) => p.offset)).toEqual([1, 2, 3]);
        expect(new Set(a.map((p) => p.epoch)).size).toBe(1);
        expect(await h.engine.position('chat:a')).toEqual({ epoch: a[0]?.epoch, offset: 5 });
      });

      it('numbers concurrent publications without gaps or duplicates', async () => {
        const h = await start();
        const pubs = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            h.engine.publish({ channel: 'chat:c', data: i, history: KEEP }),
          ),
        );
        expect(pubs.map((p) => p.offset).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
      });
    });

    describe('store: an ack means committed', () => {
      it('an acked publication is in history at the offset its ack gave (durable engines: for another engine on the same store too)', async () => {
        const store = `s${randomBytes(6).toString('hex')}`;
        const h = await start(store);
        const pubs = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            h.engine.publish({ channel: 'chat:a', data: { i }, history: KEEP }),
          ),
        );
        // Nothing awaited besides the acks. A durable engine's ack means the store has it:
        // another engine (another node, or this one after a crash) reads it from there.
        const reader = options.durable ? (await start(store)).engine : h.engine;
        const history = await reader.history('chat:a', {}, KEEP);
        const acked = pubs
          .map((p) => [p.epoch, p.offset, p.data])
          .sort((x, y) => Number(x[1]) - Number(y[1]));
        expect(history.publications.map((p) => [p.epoch, p.offset, p.data])).toEqual(acked);
      });

      it('a publication whose data cannot be serialised fails alone: its batch-mates are stored gap-free', async () => {
        const h = await start();
        let deep: unknown = [];
        for (let i = 0; i < 200_000; i += 1) deep = [deep];
        const results = await Promise.allSettled(
          ['before', deep, 'after'].map((data) =>
            h.engine.publish({ channel: 'chat:a', data, history: KEEP }),
          ),
        );
        const acked = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'json_too_deep' });
        }
        // (An engine that keeps data by reference, in memory, has nothing to serialise.)
        expect(acked.map((p) => p.offset)).toEqual(acked.map((_, i) => i + 1));
        expect(acked.map((p) => p.data)).toContain('after');
        const history = await h.engine.history('chat:a', {}, KEEP);
        expect(history.publications.map((p) => p.offset)).toEqual(acked.map((p) => p.offset));
      });
    });

    describe('store: history', () => {
      it('returns the newest publications, up to limit', async () => {
        const h = await start();
        await publishMany(h.engine, 'chat:a', 6);
        const all = await h.engine.history('chat:a', {}, KEEP);
        expect(all.publications.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(all.complete).toBe(true);
        const last2 = await h.engine.history('chat:a', { limit: 2 }, KEEP);
        expect(last2.publications.map((p) => p.offset)).toEqual([5, 6]);
        expect(last2.offset).toBe(6);
      });

      it('returns exactly what came after since, paged forward by limit', async () => {
        const h = await start();
        const pubs = await publishMany(h.engine, 'chat:a', 7);
        const epoch = pubs[0]?.epoch ?? '';
        const after3 = await h.engine.history('chat:a', { since: { epoch, offset: 3 } }, KEEP);
        expect(after3.complete).toBe(true);
        expect(after3.publications.map((p) => p.offset)).toEqual([4, 5, 6, 7]);
        const page = await h.engine.history('chat:a', { since: { epoch, offset: 3 }, limit: 2 }, KEEP);
        expect(page.publications.map((p) => p.offset)).toEqual([4, 5]);
        const none = await h.engine.history('chat:a', { since: { epoch, offset: 7 } }, KEEP);
        expect(none).toMatchObject({ complete: true, publications: [], epoch, offset: 7 });
        const fromStart = await h.engine.history('chat:a', { since: { epoch, offset: 0 } }, KEEP);
        expect(fromStart.publications).toHaveLength(7);
      });

      it('trims by size and then says a trimmed since is not covered', async () => {
        const h = await start();
        const policy = { size: 3, ttlMs: KEEP.ttlMs };
        const pubs = await publishMany(h.engine, 'chat:a', 5, policy);
        const epoch = pubs[0]?.epoch ?? '';
        const kept = await h.engine.history('chat:a', {}, policy);
        expect(kept.publications.map((p) => p.offset)).toEqual([3, 4, 5]);
        expect(
          (await h.engine.history('chat:a', { since: { epoch, offset: 2 } }, policy)).publications.map(
            (p) => p.offset,
          ),
        ).toEqual([3, 4, 5]);
        for (const offset of [0, 1]) {
          const gap = await h.engine.history('chat:a', { since: { epoch, offset } }, policy);
          expect(gap).toMatchObject({ complete: false, publications: [], epoch, offset: 5 });
        }
      });

      it('trims by age', async () => {
        vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
        const h = await start();
        const policy = { size: 100, ttlMs: 60_000 };
        const pubs = await publishMany(h.engine, 'chat:a', 2, policy);
        vi.setSystemTime(new Date('2026-01-01T00:00:45Z'));
        await publishMany(h.engine, 'chat:a', 1, policy);
        vi.setSystemTime(new Date('2026-01-01T00:01:30Z'));
        const kept = await h.engine.history('chat:a', {}, policy);
        expect(kept.publications.map((p) => p.offset)).toEqual([3]);
        const epoch = pubs[0]?.epoch ?? '';
        expect((await h.engine.history('chat:a', { since: { epoch, offset: 1 } }, policy)).complete).toBe(
          false,
        );
        expect((await h.engine.history('chat:a', { since: { epoch, offset: 2 } }, policy)).complete).toBe(
          true,
        );
      });

      it('says a since from another epoch or from the future is not covered', async () => {
        const h = await start();
        const pubs = await publishMany(h.engine, 'chat:a', 3);
        const epoch = pubs[0]?.epoch ?? '';
        const otherEpoch = await h.engine.history(
          'chat:a',
          { since: { epoch: `${epoch}x`, offset: 1 } },
          KEEP,
        );
        expect(otherEpoch).toMatchObject({ complete: false, publications: [], epoch, offset: 3 });
        const future = await h.engine.history('chat:a', { since: { epoch, offset: 9 } }, KEEP);
        expect(future.complete).toBe(false);
      });
    });

    describe('store: idle channels', () => {
      // Tiny so that Redis, which expires keys in real time, forgets the channel quickly.
      const BRIEF: HistoryPolicy = { size: 10, ttlMs: 50 };

      it('forgets a channel unused for 2 × its history ttl: since then gets complete:false and a new epoch', async () => {
        const h = await start();
        const [pub] = await publishMany(h.engine, 'chat:idle', 2, BRIEF);
        const epoch = pub?.epoch ?? '';
        const since = { epoch, offset: 2 };
        if (options.sweep) {
          // Past the ttl, inside 2 × ttl: history expired, the position is kept (nothing missed).
          options.sweep(h.engine, Date.now() + BRIEF.ttlMs + 10);
          expect(await h.engine.history('chat:idle', { since }, BRIEF)).toMatchObject({
            epoch,
            offset: 2,
            complete: true,
          });
          options.sweep(h.engine, Date.now() + 2 * BRIEF.ttlMs + 1);
        }
        const later = await eventually('the idle channel to be forgotten', async () => {
          const result = await h.engine.history('chat:idle', { since }, BRIEF);
          return result.epoch !== epoch && result;
        });
        expect(later).toMatchObject({ offset: 0, complete: false, publications: [] });
        const next = await h.engine.publish({ channel: 'chat:idle', data: 'again', history: BRIEF });
        expect(next).toMatchObject({ epoch: later.epoch, offset: 1 });
      });
    });

    describe('store: presence', () => {
      it('adds, replaces, lists, counts and removes members per channel', async () => {
        const h = await start();
        await h.engine.presenceAdd('chat:a', { client: 'c-1', user: 'alice', connectedAt: 1 });
        await h.engine.presenceAdd('chat:a', { client: 'c-2', connectedAt: 2 });
        await h.engine.presenceAdd('chat:b', { client: 'c-3', connectedAt: 3 });
        await h.engine.presenceAdd('chat:a', { client: 'c-1', user: 'alice', connectedAt: 1 });
        const list = await h.engine.presenceList('chat:a');
        expect(list.sort((x, y) => x.client.localeCompare(y.client))).toEqual([
          { client: 'c-1', user: 'alice', connectedAt: 1 },
          { client: 'c-2', connectedAt: 2 },
        ]);
        expect(await h.engine.presenceCount('chat:a')).toBe(2);
        await h.engine.presenceRemove('chat:a', 'c-1');
        expect(await h.engine.presenceList('chat:a')).toEqual([{ client: 'c-2', connectedAt: 2 }]);
        expect(await h.engine.presenceCount('chat:b')).toBe(1);
        await h.engine.presenceRemove('chat:a', 'nobody');
        expect(await h.engine.presenceList('chat:empty')).toEqual([]);
      });

      it('expires members whose TTL is not refreshed', async () => {
        vi.useFakeTimers({ toFake: ['Date'] });
        vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
        const h = await start();
        await h.engine.presenceAdd('chat:a', { client: 'kept', connectedAt: 1 }, 10_000);
        await h.engine.presenceAdd('chat:a', { client: 'dead', connectedAt: 1 }, 10_000);
        vi.setSystemTime(new Date('2026-01-01T00:00:08Z'));
        await h.engine.presenceRefresh('chat:a', ['kept'], 10_000);
        vi.setSystemTime(new Date('2026-01-01T00:00:12Z'));
        expect((await h.engine.presenceList('chat:a')).map((m) => m.client)).toEqual(['kept']);
        expect(await h.engine.presenceCount('chat:a')).toBe(1);
        vi.setSystemTime(new Date('2026-01-01T00:00:19Z'));
        expect(await h.engine.presenceCount('chat:a')).toBe(0);
      });
    });

    describe('restart on the same store', () => {
      if (options.durable) {
        it('keeps history, offsets and epoch', async () => {
          const store = `s${randomBytes(6).toString('hex')}`;
          const first = await start(store);
          const pubs = await publishMany(first.engine, 'chat:a', 4);
          await first.engine.publish({
            channel: 'chat:a',
            data: 'last',
            from: { client: 'c-9', user: 'bob' },
            history: KEEP,
          });
          const emptyEpoch = (await first.engine.position('chat:empty')).epoch;
          await first.engine.close();
          const second = await start(store);
          const epoch = pubs[0]?.epoch ?? '';
          expect(await second.engine.position('chat:a')).toEqual({ epoch, offset: 5 });
          expect(await second.engine.position('chat:empty')).toEqual({ epoch: emptyEpoch, offset: 0 });
          const missed = await second.engine.history('chat:a', { since: { epoch, offset: 2 } }, KEEP);
          expect(missed.complete).toBe(true);
          expect(missed.publications.map((p) => p.data)).toEqual([{ n: 3 }, { n: 4 }, 'last']);
          expect(missed.publications[2]?.from).toEqual({ client: 'c-9', user: 'bob' });
          const next = await second.engine.publish({ channel: 'chat:a', data: 'after', history: KEEP });
          expect(next).toMatchObject({ epoch, offset: 6 });
        });

        it('keeps trimming across a restart', async () => {
          const store = `s${randomBytes(6).toString('hex')}`;
          const policy = { size: 2, ttlMs: KEEP.ttlMs };
          const first = await start(store);
          await publishMany(first.engine, 'chat:a', 5, policy);
          await first.engine.close();
          const second = await start(store);
          expect(
            (await second.engine.history('chat:a', {}, policy)).publications.map((p) => p.offset),
          ).toEqual([4, 5]);
        });
      } else {
        it('starts a new epoch, so no client mistakes lost history for none', async () => {
          const store = `s${randomBytes(6).toString('hex')}`;
          const first = await start(store);
          const pubs = await publishMany(first.engine, 'chat:a', 3);
          await first.engine.close();
          const second = await start(store);
          const epoch = pubs[0]?.epoch ?? '';
          const pos = await second.engine.position('chat:a');
          expect(pos.epoch).not.toBe(epoch);
          expect(
            (await second.engine.history('chat:a', { since: { epoch, offset: 3 } }, KEEP)).complete,
          ).toBe(false);
        });
      }
    });
  });
}
