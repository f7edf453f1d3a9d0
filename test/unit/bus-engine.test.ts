import { afterEach, describe, expect, it } from 'vitest';
import type { Publication } from '../../src/engine/types.js';
import { Frame } from '../../src/hub/frame.js';
import { Hub } from '../../src/hub/hub.js';
import { type BusEngine, MemoryBus } from '../support/bus-engine.js';
import { runEngineConformance } from '../support/engine-conformance.js';
import { fakeSession } from '../support/fake-session.js';

// A node closed and another opened on the same bus sees the same store: durable semantics.
const buses = new Map<string, MemoryBus>();
const busOf = (store: string): MemoryBus => {
  let bus = buses.get(store);
  if (!bus) {
    bus = new MemoryBus();
    buses.set(store, bus);
  }
  return bus;
};
runEngineConformance((store) => busOf(store).node(), {
  name: 'in-process bus',
  durable: true,
  sweep: (engine, now) => {
    for (const bus of buses.values()) if (bus.nodes.includes(engine as BusEngine)) bus.sweep(now);
  },
});

const HISTORY = { size: 100, ttlMs: 60_000 };

/** A node of `bus` started with a handler that records deliveries and gap/link events. */
async function node(bus: MemoryBus) {
  const engine = bus.node();
  const got: Publication[] = [];
  const gaps: [string, boolean][] = [];
  const links: boolean[] = [];
  await engine.start((pub) => got.push(pub), {
    gap: (channel, recovered) => gaps.push([channel, recovered]),
    link: (up) => links.push(up),
  });
  return { engine, got, gaps, links };
}

/** Lets the bus's microtask deliveries run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('gap, link and presence logic on the in-process bus (no Redis)', () => {
  const hubs: Hub[] = [];
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.close();
  });

  it('a dropped publication is filled from history, in order, and reported as a recovered gap', async () => {
    const bus = new MemoryBus();
    const a = await node(bus);
    const b = await node(bus);
    await b.engine.subscribe('c');
    b.engine.dropNext();
    for (const n of [1, 2, 3]) await a.engine.publish({ channel: 'c', data: n, history: HISTORY });
    await settle();
    expect(b.got.map((p) => p.data)).toEqual([1, 2, 3]);
    expect(b.gaps).toEqual([['c', true]]);
  });

  it('a gap history no longer covers is reported lost, and delivery goes on from the head', async () => {
    const bus = new MemoryBus();
    const a = await node(bus);
    const b = await node(bus);
    await b.engine.subscribe('c');
    b.engine.dropNext(3);
    const small = { size: 1, ttlMs: 60_000 };
    for (const n of [1, 2, 3, 4]) await a.engine.publish({ channel: 'c', data: n, history: small });
    await settle();
    expect(b.gaps).toEqual([['c', false]]);
    await a.engine.publish({ channel: 'c', data: 5, history: small });
    await settle();
    expect(b.got.map((p) => p.data)).toEqual([5]);
  });

  it('a link that breaks and comes back is caught up from history; while down, calls fail', async () => {
    const bus = new MemoryBus();
    const a = await node(bus);
    const b = await node(bus);
    await b.engine.subscribe('c');
    await a.engine.publish({ channel: 'c', data: 1, history: HISTORY });
    await settle();
    b.engine.linkDown();
    await expect(b.engine.publish({ channel: 'c', data: 'x' })).rejects.toMatchObject({
      code: 'broker_unavailable',
    });
    await a.engine.publish({ channel: 'c', data: 2, history: HISTORY });
    await a.engine.publish({ channel: 'c', data: 3, history: HISTORY });
    await settle();
    expect(b.got.map((p) => p.data)).toEqual([1]);
    b.engine.linkUp();
    expect(b.links).toEqual([false, true]);
    expect(b.got.map((p) => p.data)).toEqual([1, 2, 3]);
    expect(b.gaps).toEqual([['c', true]]);
  });

  it('the hub counts link losses and gaps, and tells an offset-tracking subscriber of a lost one', async () => {
    const bus = new MemoryBus();
    const publisher = new Hub(bus.node());
    const hub = new Hub(bus.node());
    hubs.push(publisher, hub);
    await publisher.start();
    await hub.start();
    let lost = 0;
    const { session } = fakeSession('s1');
    const encoder = { name: 'json', encode: (pub: Publication) => Frame.json(pub.data) };
    await hub.subscribe('chat:lobby', {
      session,
      encoder,
      lost: () => {
        lost += 1;
      },
    });
    const engine = bus.nodes[1] as BusEngine;
    engine.linkDown();
    expect(hub.counters.brokerDowns).toBe(1);
    for (let i = 0; i < 101; i += 1) await publisher.publish({ channel: 'chat:lobby', data: i });
    engine.linkUp();
    expect(hub.counters.brokerReconnects).toBe(1);
    expect(hub.counters.gapsLost).toBe(1);
    expect(lost).toBe(1);
  });

  it("a dead node's presence members expire with their TTL; a live node's refresh keeps its own", async () => {
    const bus = new MemoryBus();
    const live = await node(bus);
    const dead = await node(bus);
    const now = Date.now();
    await live.engine.presenceAdd('chat:lobby', { client: 'c-live', connectedAt: now }, 1_000);
    await dead.engine.presenceAdd('chat:lobby', { client: 'c-dead', connectedAt: now }, 1_000);
    dead.engine.linkDown(); // the node is gone: nobody refreshes c-dead
    await live.engine.presenceRefresh('chat:lobby', ['c-live'], 10_000);
    bus.sweep(now + 5_000);
    expect((await live.engine.presenceList('chat:lobby')).map((m) => m.client)).toEqual(['c-live']);
  });
});
