import { type HistoryEvent, type Position, parseKey } from './history.js';

/** A broken guarantee, with the events that show it (indices into the history). */
export interface Violation {
  invariant: Invariant;
  message: string;
  events: number[];
}

export type Invariant =
  | 'acked-in-history'
  | 'one-payload-per-offset'
  | 'rt-gap-free'
  | 'run-ends-once'
  | 'plain-order'
  | 'publisher-order'
  | 'close-codes'
  | 'liveness';

export interface CheckOptions {
  /** True for channels that keep history (offsets and epochs). */
  hasHistory(channel: string): boolean;
  /**
   * True when the set-up may lose run records by design (Redis without persistence restarted
   * empty during the schedule): a run that is then unknown is not a violation.
   */
  runsMayBeLost: boolean;
  /** At most this many violations per invariant are kept (the rest are counted). */
  maxPerInvariant?: number;
}

export interface CheckResult {
  violations: Violation[];
  /** Violations beyond `maxPerInvariant`, per invariant. */
  dropped: Partial<Record<Invariant, number>>;
  /** What was checked, for reports. */
  counts: { acked: number; messages: number; runs: number; observers: number };
}

/** Close codes a client may get under the faults of a schedule; any other is a violation. */
const EXPECTED_CLOSES = new Set([
  1000, // the client closed
  1001, // drain (SIGTERM)
  1005, // closed without a code
  1006, // the connection dropped (SIGKILL, a cut)
  1012, // publications lost: resubscribe with since
  4008, // too slow to read
]);

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']);

const samePosition = (a: Position | undefined, b: Position | undefined): boolean =>
  a !== undefined && b !== undefined && a.epoch === b.epoch && a.offset === b.offset;

const show = (p: Position | undefined): string => (p ? `${p.epoch}@${p.offset}` : 'nothing');

type Of<T extends HistoryEvent['type']> = Extract<HistoryEvent, { type: T }>;

/**
 * Checks a schedule's history against wirehub's delivery guarantees (DESIGN.md "State and
 * delivery"). Pure: it reads the events and returns the violations, each with the events that
 * show it, so a report can print a minimal excerpt.
 */
export function check(events: readonly HistoryEvent[], options: CheckOptions): CheckResult {
  const out = new Collector(options.maxPerInvariant ?? 5);
  ackedInHistory(events, options, out);
  onePayloadPerOffset(events, out);
  rtGapFree(events, options, out);
  runsEndOnce(events, options, out);
  plainOrder(events, options, out);
  publisherOrder(events, out);
  closeCodes(events, out);
  liveness(events, out);
  const observers = new Set<string>();
  for (const e of events) if (e.type === 'message' || e.type === 'plain') observers.add(e.actor);
  return {
    violations: out.violations,
    dropped: out.dropped,
    counts: {
      acked: events.filter((e) => e.type === 'ack').length,
      messages: events.filter((e) => e.type === 'message' || e.type === 'plain').length,
      runs: events.filter((e) => e.type === 'run-started').length,
      observers: observers.size,
    },
  };
}

class Collector {
  readonly violations: Violation[] = [];
  readonly dropped: Partial<Record<Invariant, number>> = {};
  private readonly per = new Map<Invariant, number>();

  constructor(private readonly max: number) {}

  add(invariant: Invariant, message: string, events: number[]): void {
    const n = this.per.get(invariant) ?? 0;
    this.per.set(invariant, n + 1);
    if (n >= this.max) {
      this.dropped[invariant] = (this.dropped[invariant] ?? 0) + 1;
      return;
    }
    this.violations.push({ invariant, message, events: [...new Set(events)].sort((a, b) => a - b) });
  }
}

function finalHistories(events: readonly HistoryEvent[]): Map<string, Of<'history'>> {
  const map = new Map<string, Of<'history'>>();
  for (const e of events) if (e.type === 'history') map.set(e.channel, e);
  return map;
}

/**
 * Every acknowledged publication is in the final history at its epoch and offset with its
 * payload, unless its epoch ended; then every client that resubscribed across the end of that
 * epoch must have been told `recovered: false`.
 */
function ackedInHistory(events: readonly HistoryEvent[], options: CheckOptions, out: Collector): void {
  const finals = finalHistories(events);
  const kept = new Map<string, Map<number, string>>();
  for (const [channel, h] of finals) kept.set(channel, new Map(h.publications.map((p) => [p.offset, p.key])));
  const crossings = events.filter(
    (e): e is Of<'subscribed'> =>
      e.type === 'subscribed' &&
      e.since !== undefined &&
      e.position !== undefined &&
      e.since.epoch !== e.position.epoch,
  );
  // Where a payload was first seen (acked, delivered): shows who took an offset over.
  const firstSeen = new Map<string, number>();
  for (const e of events) {
    if ((e.type === 'ack' || e.type === 'message') && !firstSeen.has(e.key)) firstSeen.set(e.key, e.i);
  }
  const endedEpochsChecked = new Set<string>();
  for (const ack of events) {
    if (ack.type !== 'ack' || !ack.position || !options.hasHistory(ack.channel)) continue;
    const final = finals.get(ack.channel);
    if (!final) {
      out.add('acked-in-history', `no final history of ${ack.channel} was read`, [ack.i]);
      continue;
    }
    const { epoch, offset } = ack.position;
    if (epoch === final.epoch) {
      const there = kept.get(ack.channel)?.get(offset);
      if (there === ack.key) continue;
      const other = there === undefined ? undefined : firstSeen.get(there);
      out.add(
        'acked-in-history',
        there === undefined
          ? `${ack.channel}: ${ack.key} was acked at ${show(ack.position)} but the final history (up to ${final.offset}) has nothing there`
          : `${ack.channel}: ${ack.key} was acked at ${show(ack.position)} but the final history has ${there} there`,
        other === undefined ? [ack.i, final.i] : [ack.i, other],
      );
      continue;
    }
    // Its epoch ended: acceptable only if nobody was told that nothing was missed across it.
    const epochKey = `${ack.channel} ${epoch}`;
    if (endedEpochsChecked.has(epochKey)) continue;
    endedEpochsChecked.add(epochKey);
    for (const sub of crossings) {
      if (sub.channel !== ack.channel || sub.since?.epoch !== epoch || sub.recovered === false) continue;
      out.add(
        'acked-in-history',
        `${ack.channel}: epoch ${epoch} ended (acked publications in it are gone), but ${sub.actor} resubscribed across it and got recovered: ${String(sub.recovered)}`,
        [ack.i, sub.i, final.i],
      );
    }
  }
}

/** No (channel, epoch, offset) maps to two payloads, whoever saw it (acks, messages, history). */
function onePayloadPerOffset(events: readonly HistoryEvent[], out: Collector): void {
  const seen = new Map<string, { key: string; i: number }>();
  const reported = new Set<string>();
  const note = (channel: string, p: Position, key: string, i: number) => {
    const id = `${channel} ${p.epoch} ${p.offset}`;
    const first = seen.get(id);
    if (!first) {
      seen.set(id, { key, i });
      return;
    }
    // One report per offset, however many observers saw the second payload.
    if (first.key === key || reported.has(id)) return;
    reported.add(id);
    out.add('one-payload-per-offset', `${channel} ${show(p)} maps to two payloads: ${first.key} and ${key}`, [
      first.i,
      i,
    ]);
  };
  for (const e of events) {
    if ((e.type === 'ack' || e.type === 'message') && e.position) note(e.channel, e.position, e.key, e.i);
    else if (e.type === 'history') {
      for (const p of e.publications) note(e.channel, { epoch: e.epoch, offset: p.offset }, p.key, e.i);
    }
  }
}

/**
 * Every `/rt` observer (raw client or SDK) got, per channel and epoch, each publication once
 * and in offset order; a skip, a repeat or a new epoch only right after `recovered: false`
 * (or a fresh subscribe without `since`). `recovered: true` must continue exactly where the
 * client was and replay up to the position it reports.
 */
function rtGapFree(events: readonly HistoryEvent[], options: CheckOptions, out: Collector): void {
  interface State {
    at: Position | undefined;
    last: number;
    /** After `recovered: true`: the replay must end here. */
    replayEnd: { position: Position; i: number } | undefined;
  }
  const states = new Map<string, State>();
  const settleReplay = (s: State, i: number) => {
    const end = s.replayEnd;
    s.replayEnd = undefined;
    if (!end || samePosition(s.at, end.position)) return;
    out.add(
      'rt-gap-free',
      `recovered: true, but the replay stopped at ${show(s.at)} while the reply said ${show(end.position)}`,
      [end.i, s.last, i],
    );
  };
  for (const e of events) {
    if (e.type !== 'subscribed' && e.type !== 'message') continue;
    if (!options.hasHistory(e.channel)) continue;
    const id = `${e.actor} ${e.channel}`;
    let s = states.get(id);
    if (!s) {
      s = { at: undefined, last: e.i, replayEnd: undefined };
      states.set(id, s);
    }
    if (e.type === 'subscribed') {
      settleReplay(s, e.i);
      if (e.recovered === true) {
        if (!e.since || !samePosition(e.since, s.at)) {
          out.add(
            'rt-gap-free',
            `${e.actor} ${e.channel}: recovered: true from ${show(e.since)}, but the client was at ${show(s.at)}`,
            [s.last, e.i],
          );
          s.at = e.position;
        } else if (!e.position || e.position.epoch !== e.since.epoch) {
          out.add(
            'rt-gap-free',
            `${e.actor} ${e.channel}: recovered: true from ${show(e.since)} into another epoch (${show(e.position)})`,
            [e.i],
          );
          s.at = e.position;
        } else {
          // The replayed messages follow; they must reach the reported position.
          s.replayEnd = { position: e.position, i: e.i };
        }
      } else {
        // recovered: false, or a subscribe without since: the client knows it starts here.
        s.at = e.position;
      }
      s.last = e.i;
      continue;
    }
    if (!e.replay) settleReplay(s, e.i);
    const p = e.position;
    if (!p) {
      out.add('rt-gap-free', `${e.actor} ${e.channel}: a message without epoch/offset`, [e.i]);
      continue;
    }
    const at = s.at;
    if (at && (p.epoch !== at.epoch || p.offset !== at.offset + 1)) {
      const what =
        p.epoch === at.epoch && p.offset <= at.offset
          ? `a duplicate or out-of-order message ${show(p)}`
          : `a silent gap: ${show(p)}`;
      out.add('rt-gap-free', `${e.actor} ${e.channel}: ${what} after ${show(at)}`, [s.last, e.i]);
    }
    s.at = p;
    s.last = e.i;
  }
  for (const s of states.values()) settleReplay(s, s.last);
}

/** Every run started ends exactly once: one terminal status, the same for every observer. */
function runsEndOnce(events: readonly HistoryEvent[], options: CheckOptions, out: Collector): void {
  const started = new Map<string, Of<'run-started'>>();
  for (const e of events) if (e.type === 'run-started' && !started.has(e.run)) started.set(e.run, e);
  const updates = new Map<string, Of<'run-update'>[]>();
  const records = new Map<string, Of<'run-record'>>();
  for (const e of events) {
    if (e.type === 'run-update') updates.set(e.run, [...(updates.get(e.run) ?? []), e]);
    if (e.type === 'run-record') records.set(e.run, e);
  }
  for (const [run, start] of started) {
    const seen = updates.get(run) ?? [];
    const record = records.get(run);
    // Terminal updates by seq (from /task-runner frames and the stored record), and statuses.
    const bySeq = new Map<number, { status: string; i: number }>();
    const terminalStatuses = new Map<string, number>();
    const noteUpdate = (seq: number | undefined, status: string, i: number) => {
      if (seq !== undefined) {
        const first = bySeq.get(seq);
        if (first && first.status !== status) {
          out.add('run-ends-once', `run ${run}: update ${seq} is ${first.status} and ${status}`, [
            first.i,
            i,
          ]);
        }
        if (!first) bySeq.set(seq, { status, i });
      }
      if (TERMINAL.has(status) && !terminalStatuses.has(status)) terminalStatuses.set(status, i);
    };
    for (const u of seen) noteUpdate(u.seq, u.status, u.i);
    if (record) for (const u of record.updates) noteUpdate(u.seq, u.status, record.i);
    if (terminalStatuses.size > 1) {
      out.add(
        'run-ends-once',
        `run ${run} ended more than once: ${[...terminalStatuses.keys()].join(' and ')}`,
        [start.i, ...terminalStatuses.values()],
      );
    }
    const terminalSeqs = [...bySeq].filter(([, u]) => TERMINAL.has(u.status));
    if (terminalSeqs.length > 1) {
      out.add(
        'run-ends-once',
        `run ${run} has ${terminalSeqs.length} terminal updates: ${terminalSeqs.map(([seq, u]) => `${seq} ${u.status}`).join(', ')}`,
        [start.i, ...terminalSeqs.map(([, u]) => u.i)],
      );
    }
    // One observer told twice that the run ended.
    const perObserver = new Map<string, Of<'run-update'>[]>();
    for (const u of seen) {
      if (!TERMINAL.has(u.status)) continue;
      perObserver.set(u.actor, [...(perObserver.get(u.actor) ?? []), u]);
    }
    for (const [actor, ends] of perObserver) {
      if (ends.length > 1)
        out.add(
          'run-ends-once',
          `run ${run}: ${actor} was told ${ends.length} times that it ended`,
          ends.map((u) => u.i),
        );
    }
    if (!record) {
      out.add('run-ends-once', `run ${run}: its record was not read at the end`, [start.i]);
      continue;
    }
    if (!record.found) {
      if (!options.runsMayBeLost)
        out.add('run-ends-once', `run ${run} was started (acknowledged) and then vanished (404)`, [
          start.i,
          record.i,
        ]);
      continue;
    }
    if (!record.status || !TERMINAL.has(record.status)) {
      out.add('run-ends-once', `run ${run} never ended (still ${record.status ?? '?'})`, [start.i, record.i]);
      continue;
    }
    const seqs = record.updates.map((u) => u.seq);
    if (!seqs.every((seq, k) => seq === k + 1)) {
      out.add('run-ends-once', `run ${run}: stored updates are not 1..n: ${seqs.join(',')}`, [record.i]);
    }
    if (record.updates.at(-1)?.status !== record.status) {
      out.add('run-ends-once', `run ${run}: its last stored update is not its status ${record.status}`, [
        record.i,
      ]);
    }
  }
}

/**
 * Plain endpoints (and `/rt` on channels without history): no duplicate, and each publisher
 * connection's messages in the order it sent them.
 */
function plainOrder(events: readonly HistoryEvent[], options: CheckOptions, out: Collector): void {
  const last = new Map<string, { s: number; i: number }>();
  for (const e of events) {
    let stream: string;
    if (e.type === 'plain') stream = `${e.actor} ${e.endpoint}`;
    else if (e.type === 'message' && !options.hasHistory(e.channel)) stream = `${e.actor} ${e.channel}`;
    else continue;
    const id = parseKey(e.key);
    if (!id) continue;
    const key = `${stream} ${id.p}/${id.c}`;
    const before = last.get(key);
    if (before && id.s <= before.s) {
      out.add(
        'plain-order',
        `${e.actor} on ${stream.split(' ')[1]}: ${id.s === before.s ? 'a duplicate' : 'out of order'}: ${e.key} after ${id.p}/${id.c}/${before.s}`,
        [before.i, e.i],
      );
    }
    last.set(key, { s: Math.max(id.s, before?.s ?? 0), i: e.i });
  }
}

/** A publisher connection's acknowledged publications get increasing offsets in send order. */
function publisherOrder(events: readonly HistoryEvent[], out: Collector): void {
  const last = new Map<string, { s: number; offset: number; i: number }>();
  for (const e of events) {
    if (e.type !== 'ack' || !e.position) continue;
    const id = parseKey(e.key);
    if (!id) continue;
    const key = `${e.actor} ${e.conn} ${e.channel} ${e.position.epoch}`;
    const before = last.get(key);
    if (before && id.s > before.s && e.position.offset <= before.offset) {
      out.add(
        'publisher-order',
        `${e.actor} published ${e.key} after seq ${before.s} on one connection, but it got offset ${e.position.offset} ≤ ${before.offset}`,
        [before.i, e.i],
      );
    }
    if (!before || id.s > before.s) last.set(key, { s: id.s, offset: e.position.offset, i: e.i });
  }
}

function closeCodes(events: readonly HistoryEvent[], out: Collector): void {
  for (const e of events) {
    if (e.type === 'closed' && !EXPECTED_CLOSES.has(e.code))
      out.add('close-codes', `${e.actor} was closed with ${e.code}`, [e.i]);
  }
}

/** Once the faults are healed, every observer catches up with the head of its channels. */
function liveness(events: readonly HistoryEvent[], out: Collector): void {
  for (const e of events) {
    if (e.type === 'stuck')
      out.add(
        'liveness',
        `${e.actor} ${e.channel}: still at ${show(e.position)} after the faults were healed; the head is ${show(e.head)}`,
        [e.i],
      );
  }
}
