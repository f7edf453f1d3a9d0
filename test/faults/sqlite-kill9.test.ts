import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliServer, startCliServer } from '../support/cli.js';
import { eventually, get } from '../support/cluster.js';
import { RtClient } from '../support/rt-client.js';
import { tempDir } from '../support/server.js';
import { TrackingSubscriber } from '../support/tracking-subscriber.js';

interface Position {
  epoch: string;
  offset: number;
}

/** Everything the clients were told about one position, from any source. */
type Observed = Map<string, Set<string>>;

const CHANNELS = ['durable:a', 'durable:b'];
const TRIALS = 3;
const RT_PUBLISHERS = 4;
const RT_WINDOW = 16;
const HTTP_PUBLISHERS = 2;

const key = (channel: string, p: Position) => `${channel} ${p.epoch} ${p.offset}`;

function observe(observed: Observed, channel: string, p: Position, data: unknown): void {
  const k = key(channel, p);
  const seen = observed.get(k) ?? new Set<string>();
  seen.add(JSON.stringify(data));
  observed.set(k, seen);
}

/** A channel's whole history, paged from its first offset. */
async function fullHistory(server: CliServer, channel: string) {
  const head = (await get(server, `/api/channels/${channel}/history?limit=1`)).body as Position;
  const out: (Position & { data: unknown })[] = [];
  let since = 0;
  for (;;) {
    const page = (
      await get(server, `/api/channels/${channel}/history?since=${since}&epoch=${head.epoch}&limit=1000`)
    ).body as Position & { complete: boolean; publications: (Position & { data: unknown })[] };
    expect(page.complete).toBe(true);
    out.push(...page.publications);
    since = out.at(-1)?.offset ?? since;
    if (page.publications.length === 0 || since >= page.offset) break;
  }
  return { epoch: head.epoch, offset: head.offset, publications: out };
}

/**
 * Publishes flat out until stopped (or its server dies): /rt clients with several commands in
 * flight each, and HTTP clients. Records every ack with the data it acknowledged.
 */
class Burst {
  readonly acks: { channel: string; position: Position; data: unknown }[] = [];
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private n = 0;

  constructor(
    private readonly server: CliServer,
    private readonly trial: number,
  ) {}

  async start(): Promise<void> {
    for (let p = 0; p < RT_PUBLISHERS; p += 1) {
      const client = await RtClient.connect(`${this.server.wsUrl}/rt`);
      for (let w = 0; w < RT_WINDOW; w += 1) this.loops.push(this.rtLoop(client, `rt${p}`));
    }
    for (let p = 0; p < HTTP_PUBLISHERS; p += 1) this.loops.push(this.httpLoop(`http${p}`));
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.all(this.loops).then(() => undefined);
  }

  private next(by: string): { channel: string; data: unknown } {
    this.n += 1;
    return {
      channel: CHANNELS[this.n % CHANNELS.length] as string,
      data: { by, n: this.n, trial: this.trial },
    };
  }

  private async rtLoop(client: RtClient, by: string): Promise<void> {
    while (!this.stopped) {
      const { channel, data } = this.next(by);
      let reply: Awaited<ReturnType<RtClient['request']>>;
      try {
        reply = await client.request('publish', { channel, data });
      } catch {
        return; // the server died: this publication was never acked
      }
      if (reply.op !== 'reply') throw new Error(`publish refused: ${reply.code}: ${reply.message}`);
      this.acks.push({ channel, position: reply.result as Position, data });
    }
  }

  private async httpLoop(by: string): Promise<void> {
    while (!this.stopped) {
      const { channel, data } = this.next(by);
      let res: Response;
      try {
        res = await fetch(`${this.server.url}/api/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ channel, data }),
        });
      } catch {
        return;
      }
      if (res.status !== 200) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
      this.acks.push({ channel, position: (await res.json()) as Position, data });
    }
  }
}

describe('wirehub serve killed with SIGKILL in the middle of a publish burst', () => {
  const dataDir = tempDir();
  const namespaces = join(dataDir, 'namespaces.json');
  writeFileSync(
    namespaces,
    JSON.stringify([{ pattern: 'durable:*', history: { size: 1_000_000, ttlMs: 24 * 60 * 60 * 1000 } }]),
  );
  let server: CliServer | undefined;
  const start = async () => {
    server = await startCliServer(['--data-dir', dataDir, '--namespaces', namespaces, '--message-rate', '0']);
    return server;
  };
  afterAll(() => {
    server?.child.kill('SIGKILL');
  });

  it('loses no acked publication, reuses no offset, and subscribers resume gap-free or with recovered:false', async () => {
    const acks: Burst['acks'] = [];
    const observed: Observed = new Map();
    let current = await start();
    const subscribers = CHANNELS.map(
      (channel) => new TrackingSubscriber(() => `${(server as CliServer).wsUrl}/rt`, channel),
    );
    for (const s of subscribers) await s.start();

    for (let trial = 0; trial < TRIALS; trial += 1) {
      const burst = new Burst(current, trial);
      await burst.start();
      // Kill at a different point of each burst (by acks, not by time: same on any machine).
      const killAt = acks.length + 600 + trial * 700;
      const resubscribed = subscribers.map((s) => s.seen.filter((e) => e.kind === 'subscribed').length);
      await eventually(
        'the burst to be acked up to the kill point',
        async () => acks.length + burst.acks.length >= killAt,
        30_000,
        5,
      );
      current.child.kill('SIGKILL');
      await current.exited;
      await burst.stop();
      acks.push(...burst.acks);
      current = await start();
      // The subscribers reconnect to the new process by themselves and resubscribe with `since`.
      await eventually('the subscribers to be back', async () =>
        subscribers.every(
          (s, i) => s.seen.filter((e) => e.kind === 'subscribed').length > (resubscribed[i] ?? 0),
        ),
      );
    }

    const histories = new Map<string, Awaited<ReturnType<typeof fullHistory>>>();
    for (const channel of CHANNELS) histories.set(channel, await fullHistory(current, channel));

    // 1. Every acked publication is in history, at the offset its ack gave, with its data.
    let checked = 0;
    for (const ack of acks) {
      const history = histories.get(ack.channel);
      expect(ack.position.epoch, 'an unclean stop in the same boot keeps the epoch').toBe(history?.epoch);
      const stored = history?.publications[ack.position.offset - 1];
      expect(stored?.offset, `${key(ack.channel, ack.position)} is in history`).toBe(ack.position.offset);
      expect(stored?.data).toEqual(ack.data);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(TRIALS * 600);

    // 2. No position maps to two payloads, whoever was told about it.
    for (const ack of acks) observe(observed, ack.channel, ack.position, ack.data);
    for (const s of subscribers)
      for (const m of s.messages()) observe(observed, s.channel, m.position, m.data);
    for (const [channel, h] of histories)
      for (const p of h.publications) observe(observed, channel, p, p.data);
    const twice = [...observed].filter(([, payloads]) => payloads.size > 1);
    expect(twice.map(([k]) => k)).toEqual([]);

    // 3. The subscribers, resubscribed after every kill, have no silent gap.
    for (const s of subscribers) s.assertNoSilentGap();

    // 4. A client resubscribing with any position it saw gets exactly what followed, or
    //    recovered: false.
    let recovered = 0;
    for (const s of subscribers) {
      const history = histories.get(s.channel);
      const positions = s.messages().map((m) => m.position);
      const sample = positions.filter((_, i) => i % Math.max(1, Math.floor(positions.length / 12)) === 0);
      for (const since of [...sample, positions.at(-1)]) {
        if (!since || !history) continue;
        const client = await RtClient.connect(`${current.wsUrl}/rt`);
        const reply = await client.call<{
          recovered: boolean;
          publications: (Position & { data: unknown })[];
        }>('subscribe', { channel: s.channel, since });
        await client.close();
        if (!reply.recovered) continue;
        recovered += 1;
        expect(reply.publications.map((p) => [p.offset, p.data])).toEqual(
          history.publications.slice(since.offset).map((p) => [p.offset, p.data]),
        );
      }
    }
    // Same boot: nothing was lost, so at least the recent positions replay.
    expect(recovered).toBeGreaterThan(0);
    for (const s of subscribers) await s.stop();
  }, 120_000);
});
