import { describe, expect, it } from 'vitest';
import { type CheckOptions, check, type Invariant } from '../support/faults/checker.js';
import type { HistoryEvent, HistoryEventBody, Position } from '../support/faults/history.js';
import { excerpt } from '../support/faults/report.js';

/**
 * The checker of the fault schedules, on hand-made histories: each guarantee it checks is
 * broken once on purpose (so a checker that checks nothing fails here), and legitimate
 * histories (a new epoch told as recovered: false, a fresh subscribe, an unknown outcome)
 * pass.
 */

const options: CheckOptions = {
  hasHistory: (channel) => channel.startsWith('chat:') || channel.startsWith('run:'),
  runsMayBeLost: false,
};

function history(...bodies: HistoryEventBody[]): HistoryEvent[] {
  return bodies.map((body, i) => ({ ...body, i, at: i }) as HistoryEvent);
}

const E = 'e-one';
const pos = (offset: number, epoch = E): Position => ({ epoch, offset });
const ack = (actor: string, s: number, offset: number, epoch = E, conn = 1): HistoryEventBody => ({
  type: 'ack',
  actor,
  conn,
  op: `${actor}#${s}`,
  channel: 'chat:a',
  key: `${actor}/${conn}/${s}`,
  position: pos(offset, epoch),
});
const msg = (actor: string, key: string, offset: number, epoch = E, conn = 1): HistoryEventBody => ({
  type: 'message',
  actor,
  conn,
  channel: 'chat:a',
  key,
  replay: false,
  position: pos(offset, epoch),
});
const subscribed = (
  actor: string,
  position: Position | undefined,
  since?: Position,
  recovered?: boolean,
): HistoryEventBody => ({
  type: 'subscribed',
  actor,
  conn: 1,
  channel: 'chat:a',
  ...(since ? { since } : {}),
  ...(recovered === undefined ? {} : { recovered }),
  ...(position ? { position } : {}),
});
const finalHistory = (offset: number, keys: string[], epoch = E): HistoryEventBody => ({
  type: 'history',
  channel: 'chat:a',
  epoch,
  offset,
  publications: keys.map((key, k) => ({ offset: offset - keys.length + k + 1, key })),
});

function invariants(events: HistoryEvent[], opts = options): Invariant[] {
  return check(events, opts).violations.map((v) => v.invariant);
}

describe('the fault-schedule checker', () => {
  it('passes a clean history: acks in history, a gap-free subscriber, a fresh start, an unknown outcome', () => {
    const events = history(
      subscribed('s', pos(0)),
      ack('p', 1, 1),
      msg('s', 'p/1/1', 1),
      { type: 'send', actor: 'p', conn: 1, op: 'p#2', channel: 'chat:a', key: 'p/1/2', via: 'rt' },
      { type: 'info', actor: 'p', op: 'p#2', reason: 'socket closed' },
      { type: 'closed', actor: 's', conn: 1, code: 1006 },
      subscribed('s', pos(2), pos(1), true),
      { ...msg('s', 'p/1/2', 2), replay: true } as HistoryEventBody,
      subscribed('t', pos(2)),
      finalHistory(2, ['p/1/1', 'p/1/2']),
    );
    expect(check(events, options).violations).toEqual([]);
  });

  it('finds an acked publication missing from the final history', () => {
    expect(invariants(history(ack('p', 1, 1), ack('p', 2, 2), finalHistory(1, ['p/1/1'])))).toContain(
      'acked-in-history',
    );
  });

  it('finds an offset given to two payloads (a crash reused it), and says so once per offset', () => {
    const events = history(
      ack('p', 1, 1),
      msg('s', 'p/1/1', 1),
      msg('t', 'p/1/1', 1),
      ack('q', 1, 1),
      msg('s', 'q/1/1', 1),
      msg('t', 'q/1/1', 1),
      finalHistory(1, ['q/1/1']),
    );
    const found = check(events, options).violations;
    expect(found.filter((v) => v.invariant === 'one-payload-per-offset')).toHaveLength(1);
    expect(found.map((v) => v.invariant)).toContain('acked-in-history');
  });

  it('accepts publications lost with an ended epoch when every client crossing it was told recovered: false', () => {
    const events = history(
      subscribed('s', pos(0)),
      ack('p', 1, 1),
      msg('s', 'p/1/1', 1),
      subscribed('s', pos(0, 'e-two'), pos(1), false),
      ack('p', 2, 1, 'e-two'),
      msg('s', 'p/1/2', 1, 'e-two'),
      finalHistory(1, ['p/1/2'], 'e-two'),
    );
    expect(check(events, options).violations).toEqual([]);
  });

  it('finds an ended epoch that a client was told it recovered across', () => {
    const events = history(
      subscribed('s', pos(0)),
      ack('p', 1, 1),
      subscribed('s', pos(0, 'e-two'), pos(0), true),
      finalHistory(0, [], 'e-two'),
    );
    const found = invariants(events);
    expect(found).toContain('acked-in-history');
    expect(found).toContain('rt-gap-free');
  });

  it('finds a silent gap, a duplicate, and a replay that stops short of the position it reports', () => {
    expect(invariants(history(subscribed('s', pos(0)), msg('s', 'p/1/1', 1), msg('s', 'p/1/3', 3)))).toEqual([
      'rt-gap-free',
    ]);
    expect(invariants(history(subscribed('s', pos(0)), msg('s', 'p/1/1', 1), msg('s', 'p/1/1', 1)))).toEqual([
      'rt-gap-free',
    ]);
    // recovered: true up to 5, but only 2 was replayed: 3..5 are hidden.
    const hidden = history(
      subscribed('s', pos(0)),
      msg('s', 'p/1/1', 1),
      subscribed('s', pos(5), pos(1), true),
      { ...msg('s', 'p/1/2', 2), replay: true } as HistoryEventBody,
      msg('s', 'p/1/6', 6),
    );
    expect(invariants(hidden)).toContain('rt-gap-free');
    // recovered: true from a position the client never had.
    expect(invariants(history(subscribed('s', pos(0)), subscribed('s', pos(3), pos(2), true)))).toEqual([
      'rt-gap-free',
    ]);
  });

  it('finds a run that ended twice, one that never ended, and one that vanished', () => {
    const started = (run: string): HistoryEventBody => ({ type: 'run-started', actor: 'r', run, via: 'rt' });
    const update = (run: string, seq: number, status: string): HistoryEventBody => ({
      type: 'run-update',
      actor: 'r',
      run,
      seq,
      status,
    });
    const record = (run: string, status: string | undefined, statuses: string[]): HistoryEventBody => ({
      type: 'run-record',
      run,
      found: status !== undefined,
      ...(status ? { status } : {}),
      updates: statuses.map((s, k) => ({ seq: k + 1, status: s })),
    });
    const ok = history(
      started('a'),
      update('a', 1, 'QUEUED'),
      update('a', 2, 'SUCCEEDED'),
      record('a', 'SUCCEEDED', ['QUEUED', 'SUCCEEDED']),
    );
    expect(check(ok, options).violations).toEqual([]);
    const twice = history(
      started('a'),
      update('a', 2, 'SUCCEEDED'),
      update('a', 3, 'FAILED'),
      record('a', 'FAILED', ['QUEUED', 'SUCCEEDED', 'FAILED']),
    );
    expect(invariants(twice)).toContain('run-ends-once');
    const never = history(started('a'), record('a', 'RUNNING', ['QUEUED', 'RUNNING']));
    expect(invariants(never)).toEqual(['run-ends-once']);
    const vanished = history(started('a'), record('a', undefined, []));
    expect(invariants(vanished)).toEqual(['run-ends-once']);
    // Unless the set-up lost its store by design (Redis without persistence restarted empty).
    expect(invariants(vanished, { ...options, runsMayBeLost: true })).toEqual([]);
  });

  it('finds a duplicate or a reordering on a plain endpoint, per publisher connection', () => {
    const plain = (key: string): HistoryEventBody => ({
      type: 'plain',
      actor: 'c',
      conn: 1,
      endpoint: '/broadcast',
      key,
    });
    expect(invariants(history(plain('p/1/1'), plain('p/1/2'), plain('p/2/1')))).toEqual([]);
    expect(invariants(history(plain('p/1/1'), plain('p/1/1')))).toEqual(['plain-order']);
    expect(invariants(history(plain('p/1/2'), plain('p/1/1')))).toEqual(['plain-order']);
  });

  it('finds acks of one publisher connection whose offsets go backwards', () => {
    expect(
      invariants(history(ack('p', 1, 2), ack('p', 2, 1), finalHistory(2, ['p/1/2', 'p/1/1']))),
    ).toContain('publisher-order');
  });

  it('finds an unexpected close code and an observer that never caught up', () => {
    expect(invariants(history({ type: 'closed', actor: 's', conn: 1, code: 1011 }))).toEqual(['close-codes']);
    expect(invariants(history({ type: 'stuck', actor: 's', channel: 'chat:a', head: pos(3) }))).toEqual([
      'liveness',
    ]);
  });

  it('names the events that show a violation (the lost ack, who took its offset) and the faults between', () => {
    const events = history(
      ack('p', 1, 1),
      { type: 'fault', phase: 'inject', fault: 'kill node0' },
      { type: 'fault', phase: 'heal', fault: 'kill node0' },
      ack('q', 1, 1),
      finalHistory(1, ['q/1/1']),
    );
    const [first] = check(events, options).violations;
    expect(first?.invariant).toBe('acked-in-history');
    const lines = excerpt(events, first?.events ?? []);
    expect(lines).toHaveLength(4);
    expect(lines.join('\n')).toMatch(/"ack".*p\/1\/1[\s\S]*kill node0[\s\S]*kill node0[\s\S]*"ack".*q\/1\/1/);
  });
});
