import { describe, expect, it } from 'vitest';
import { ChannelStream } from '../../src/engine/memory/channel-stream.js';
import type { Publication } from '../../src/engine/types.js';

const policy = { size: 5, ttlMs: 60_000 };
const pub = (n: number, at = Date.now()): Publication => ({ id: `p${n}`, channel: 'c', data: n, at });

describe('ChannelStream', () => {
  it('assigns gap-free offsets and replays what follows a position', () => {
    const s = new ChannelStream('e1');
    for (let i = 1; i <= 4; i += 1) s.append(pub(i), policy);
    expect(s.position()).toEqual({ epoch: 'e1', offset: 4 });
    const r = s.read({ since: { epoch: 'e1', offset: 2 } }, policy);
    expect(r.complete).toBe(true);
    expect(r.publications.map((p) => p.offset)).toEqual([3, 4]);
    expect(s.read({ since: { epoch: 'e1', offset: 4 } }, policy)).toMatchObject({
      complete: true,
      publications: [],
    });
  });

  it('says incomplete when history was trimmed, the epoch differs, or the position is ahead', () => {
    const s = new ChannelStream('e1');
    for (let i = 1; i <= 8; i += 1) s.append(pub(i), policy);
    expect(s.read({ since: { epoch: 'e1', offset: 2 } }, policy).complete).toBe(false);
    expect(s.read({ since: { epoch: 'e1', offset: 3 } }, policy).publications.map((p) => p.offset)).toEqual([
      4, 5, 6, 7, 8,
    ]);
    expect(s.read({ since: { epoch: 'other', offset: 7 } }, policy).complete).toBe(false);
    expect(s.read({ since: { epoch: 'e1', offset: 9 } }, policy).complete).toBe(false);
  });

  it('trims by age', () => {
    const s = new ChannelStream('e1');
    const now = Date.now();
    s.append(pub(1, now - 120_000), policy);
    s.append(pub(2, now), policy);
    const r = s.read({}, policy, now);
    expect(r.publications.map((p) => p.offset)).toEqual([2]);
    expect(s.read({ since: { epoch: 'e1', offset: 0 } }, policy, now).complete).toBe(false);
  });
});
