import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliServer, startCliServer } from '../support/cli.js';
import { eventually, get } from '../support/cluster.js';
import { type Ack, type Position, PositionLedger, PublishBurst } from '../support/publish-burst.js';
import { RtClient } from '../support/rt-client.js';
import { tempDir } from '../support/server.js';
import { TrackingSubscriber } from '../support/tracking-subscriber.js';

const CHANNELS = ['durable:a', 'durable:b'];
const TRIALS = 3;

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
    const acks: Ack[] = [];
    const ledger = new PositionLedger();
    let current = await start();
    const subscribers = CHANNELS.map(
      (channel) => new TrackingSubscriber(() => `${(server as CliServer).wsUrl}/rt`, channel),
    );
    for (const s of subscribers) await s.start();

    for (let trial = 0; trial < TRIALS; trial += 1) {
      const burst = new PublishBurst({
        nodes: [current],
        channels: CHANNELS,
        rtPublishers: 4,
        window: 16,
        httpPublishers: 2,
        tag: `trial ${trial}`,
      });
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
      expect(stored?.offset, `${ack.channel} ${ack.position.offset} is in history`).toBe(ack.position.offset);
      expect(stored?.data).toEqual(ack.data);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(TRIALS * 600);

    // 2. No position maps to two payloads, whoever was told about it.
    for (const ack of acks) ledger.record(ack.channel, ack.position, ack.data);
    for (const s of subscribers) for (const m of s.messages()) ledger.record(s.channel, m.position, m.data);
    for (const [channel, h] of histories) for (const p of h.publications) ledger.record(channel, p, p.data);
    expect(ledger.reused()).toEqual([]);

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
