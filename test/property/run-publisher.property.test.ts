import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PublishInput } from '../../src/engine/types.js';
import { WirehubError } from '../../src/protocol/index.js';
import { RunPublisher } from '../../src/tasks/runs/run-publisher.js';
import type { RunUpdate } from '../../src/tasks/runs/types.js';

type Outcome = 'ok' | 'down' | 'timeout' | 'refused';

/** A broker that answers each publish call with the next outcome of its script, then 'ok'. */
class ScriptedSink {
  readonly published: RunUpdate[] = [];
  readonly attempts = new Map<string, number>();
  /** Updates answered with a 4xx. */
  readonly refused = new Set<string>();
  private call = 0;

  constructor(private readonly script: Outcome[]) {}

  async publish(input: PublishInput): Promise<unknown> {
    const update = input.data as RunUpdate;
    const key = `${update.run_id}#${update.seq}`;
    this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
    const outcome = this.script[this.call++] ?? 'ok';
    // Answers come back later than the call, as a network's do.
    await new Promise((resolve) => setImmediate(resolve));
    if (outcome === 'down') throw new WirehubError('broker_unavailable', 'the link is down');
    if (outcome === 'timeout') throw new Error('Command timed out');
    if (outcome === 'refused') {
      this.refused.add(key);
      throw new WirehubError('payload_too_large');
    }
    this.published.push(update);
    return {};
  }
}

function update(run: string, seq: number): RunUpdate {
  return { run_id: run, seq, status: 'RUNNING', message: `${run} ${seq}`, at: new Date(0).toISOString() };
}

/** Updates of a few runs, interleaved, each run's in seq order (as the run service issues them). */
const interleaved = fc
  .array(fc.constantFrom('r-a', 'r-b', 'r-c'), { minLength: 1, maxLength: 40 })
  .map((runs) => {
    const next = new Map<string, number>();
    return runs.map((run) => {
      const seq = (next.get(run) ?? 0) + 1;
      next.set(run, seq);
      return update(run, seq);
    });
  });
const script = fc.array(fc.constantFrom<Outcome>('ok', 'ok', 'down', 'timeout', 'refused'), {
  maxLength: 80,
});

describe('RunPublisher', () => {
  it('publishes every update once, in seq order per run, whatever the broker refuses for a while', async () => {
    await fc.assert(
      fc.asyncProperty(interleaved, script, async (updates, outcomes) => {
        const sink = new ScriptedSink(outcomes);
        const publisher = new RunPublisher(sink, { firstDelayMs: 1, maxDelayMs: 2 });
        for (const u of updates) void publisher.publish(u);
        await publisher.settled();

        expect(publisher.waiting).toBe(0);
        const key = (u: RunUpdate) => `${u.run_id}#${u.seq}`;
        const out = sink.published.map(key);
        expect(new Set(out).size).toBe(out.length); // nothing twice
        // Each update is out, or was answered with a 4xx, which ends its tries (never both).
        for (const u of updates) expect(out.includes(key(u))).toBe(!sink.refused.has(key(u)));
        for (const run of ['r-a', 'r-b', 'r-c']) {
          const seqs = sink.published.filter((u) => u.run_id === run).map((u) => u.seq);
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        }
        // Only a 4xx answer drops an update: with no 'refused' in the script, all are out.
        if (!outcomes.includes('refused')) expect(out.length).toBe(updates.length);
      }),
      { numRuns: 150 },
    );
  });

  it('resolves a publish after its first attempt, even while it keeps retrying', async () => {
    const sink = new ScriptedSink(['down', 'down', 'down']);
    const publisher = new RunPublisher(sink, { firstDelayMs: 5, maxDelayMs: 5 });
    await publisher.publish(update('r-a', 1));
    expect(sink.published).toEqual([]);
    expect(publisher.waiting).toBe(1);
    await publisher.settled();
    expect(sink.published.map((u) => u.seq)).toEqual([1]);
    expect(sink.attempts.get('r-a#1')).toBe(4);
  });

  it('holds a run’s later updates behind one that waits for a retry', async () => {
    const sink = new ScriptedSink(['down']);
    const publisher = new RunPublisher(sink, { firstDelayMs: 5, maxDelayMs: 5 });
    void publisher.publish(update('r-a', 1));
    void publisher.publish(update('r-a', 2));
    void publisher.publish(update('r-b', 1));
    await publisher.settled();
    expect(sink.published.map((u) => `${u.run_id}#${u.seq}`)).toEqual(['r-b#1', 'r-a#1', 'r-a#2']);
  });

  it('stops retrying at close, and takes nothing after it', async () => {
    const sink = new ScriptedSink(Array<Outcome>(1000).fill('down'));
    const publisher = new RunPublisher(sink, { firstDelayMs: 10_000, maxDelayMs: 10_000 });
    await publisher.publish(update('r-a', 1));
    publisher.close();
    await publisher.settled(); // would wait 10 s for the retry were it not woken
    expect(publisher.waiting).toBe(0);
    await publisher.publish(update('r-a', 2));
    expect(sink.attempts.get('r-a#1')).toBe(1);
    expect(sink.attempts.has('r-a#2')).toBe(false);
  });

  it('drops updates beyond maxPending instead of growing without bound', async () => {
    const sink = new ScriptedSink(Array<Outcome>(5).fill('down'));
    const publisher = new RunPublisher(sink, { maxPending: 2, firstDelayMs: 1, maxDelayMs: 1 });
    void publisher.publish(update('r-a', 1));
    void publisher.publish(update('r-a', 2));
    await publisher.publish(update('r-a', 3));
    expect(publisher.waiting).toBe(2);
    await publisher.settled();
    expect(sink.published.map((u) => u.seq)).toEqual([1, 2]);
  });
});
