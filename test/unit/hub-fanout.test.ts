import { describe, expect, it } from 'vitest';
import { plainTextEncoder } from '../../src/endpoints/encoders.js';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import type { Publication } from '../../src/engine/types.js';
import type { FanoutMember, FanoutTransport } from '../../src/hub/fanout.js';
import type { Frame } from '../../src/hub/frame.js';
import { Hub } from '../../src/hub/hub.js';
import type { OverflowPolicy, Session } from '../../src/hub/session.js';
import { fakeSession } from '../support/fake-session.js';

/**
 * A transport with fan-out groups in memory: a publish hands the frame to the sessions in the
 * group at that moment, as Bun's topics do. Each session records what reached it and how.
 */
class FakeGroups implements FanoutTransport {
  readonly members = new Map<string, Set<Member>>();
  publishes = 0;
  publish(group: string, frame: Frame): void {
    this.publishes += 1;
    for (const m of this.members.get(group) ?? []) m.got.push(`${frame.payload}`);
  }
}

interface Member {
  session: Session;
  got: string[];
  /** Over its cap: `admit` refuses (and counts) like a session over its output cap. */
  full: boolean;
  refused: OverflowPolicy[];
}

function member(id: string, groups: FakeGroups): Member {
  const { session, frames } = fakeSession(id);
  const m: Member = { session, got: [], full: false, refused: [] };
  const fanout: FanoutMember = {
    fanoutTransport: groups,
    joinGroup(group) {
      const set = groups.members.get(group) ?? new Set();
      groups.members.set(group, set);
      if (set.has(m)) return false;
      set.add(m);
      return true;
    },
    leaveGroup(group) {
      groups.members.get(group)?.delete(m);
    },
    admit(_frame, overflow) {
      if (m.full) m.refused.push(overflow);
      return !m.full;
    },
  };
  // Frames sent one by one (not through the group) land in `got` too, marked.
  const send = session.send;
  Object.assign(session, {
    fanout,
    send: (frame: Frame) => {
      m.got.push(`send:${frame.payload}`);
      return send(frame);
    },
  });
  void frames;
  return m;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Hub.deliver over a transport with fan-out groups', () => {
  it('publishes once to the group, and keeps out whom a rule keeps out of that delivery only', async () => {
    const hub = new Hub(new MemoryEngine(), { namespaces: [{ pattern: 'chat:*' }] });
    await hub.start();
    const groups = new FakeGroups();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => member(id, groups)) as [Member, Member, Member];
    let holdC = false;
    for (const m of [a, b])
      await hub.subscribe('chat:x', { session: m.session, encoder: plainTextEncoder, excludeOwn: true });
    await hub.subscribe('chat:x', {
      session: c.session,
      encoder: plainTextEncoder,
      excludeOwn: true,
      accept: (_pub: Publication) => !holdC,
    });

    await hub.publish({ channel: 'chat:x', data: '1' });
    await hub.publish({ channel: 'chat:x', data: '2', from: { client: 'a' } }); // a is the sender
    holdC = true;
    await hub.publish({ channel: 'chat:x', data: '3' }); // c's filter says no
    holdC = false;
    b.full = true;
    await hub.publish({ channel: 'chat:x', data: '4' }); // b is over its cap
    b.full = false;
    await hub.publish({ channel: 'chat:x', data: '5' });
    await settle();

    expect(a.got).toEqual(['1', '3', '4', '5']);
    expect(b.got).toEqual(['1', '2', '3', '5']);
    expect(c.got).toEqual(['1', '2', '4', '5']);
    expect(b.refused).toEqual(['disconnect']);
    expect(groups.publishes).toBe(5);
    expect(hub.counters).toMatchObject({ deliveries: 12, groupDeliveries: 12, groupWrites: 5, overflows: 1 });

    // Unsubscribing leaves the group: later publishes do not reach it.
    await hub.unsubscribe('chat:x', c.session);
    await hub.publish({ channel: 'chat:x', data: '6' });
    await settle();
    expect(c.got.at(-1)).toBe('5');
    expect(a.got.at(-1)).toBe('6');
    await hub.close();
  });

  it('sends on its own to a second subscription of a session already in the group', async () => {
    const hub = new Hub(new MemoryEngine(), { namespaces: [{ pattern: 'chat:*' }] });
    await hub.start();
    const groups = new FakeGroups();
    const a = member('a', groups);
    await hub.subscribe('chat:x', { session: a.session, encoder: plainTextEncoder });
    await hub.subscribe('chat:x', { session: a.session, encoder: plainTextEncoder });
    await hub.publish({ channel: 'chat:x', data: '1' });
    await settle();
    expect(a.got).toEqual(['send:1', '1']);
    expect(hub.counters).toMatchObject({ deliveries: 2, groupDeliveries: 1 });
    await hub.close();
  });
});
