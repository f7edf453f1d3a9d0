import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServerOptions } from '../../src/server/options.js';
import { RtClient } from '../support/rt-client.js';
import { type GuardedServer, guardedServer, mintToken } from '../support/security.js';
import type { RunningServer } from '../support/server.js';

const FLOOD = 10_000;
const MAX_CHANNELS = 128; // the default per-connection limit

let guarded: GuardedServer | undefined;

afterEach(async () => {
  await guarded?.stop();
  guarded = undefined;
});

async function start(limits: ServerOptions['limits']) {
  guarded = await guardedServer({ limits, tasks: false });
  return guarded;
}

async function rtWith(s: RunningServer, subscribe: string[]): Promise<RtClient> {
  // With presence too, so each subscription also gets a join/leave feed: the heavier case.
  const token = await mintToken({
    sub: 'flooder',
    wirehub: { endpoints: ['rt'], subscribe, presence: subscribe },
  });
  return RtClient.connect(`${s.wsUrl}/rt?access_token=${token}`);
}

function send(c: RtClient, from: number, to: number): void {
  for (let i = from; i <= to; i += 1)
    c.sendRaw(JSON.stringify({ op: 'subscribe', id: i, channel: `chat:flood-${i}` }));
}

/** Sends 10k subscribes to distinct channels in one burst; ids 1…10 000. */
function flood(c: RtClient): void {
  send(c, 1, FLOOD);
}

/**
 * Sends 10k subscribes to distinct channels in bursts of 1000, reading the answers of each
 * burst before the next (10k unread answers would be over the 1 MiB output cap: 4008, rightly).
 * Resolves with the last answer.
 */
async function floodReading(c: RtClient) {
  let last: Awaited<ReturnType<RtClient['waitReply']>> | undefined;
  for (let from = 1; from <= FLOOD; from += 1000) {
    const to = Math.min(FLOOD, from + 999);
    const answered = c.waitReply(to, 30_000);
    send(c, from, to);
    last = await answered;
  }
  return last;
}

function answers(c: RtClient): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of c.frames) {
    if (f.op !== 'reply' && f.op !== 'error') continue;
    const key = f.op === 'reply' ? 'ok' : f.code;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('10k distinct channel subscribes on one connection', () => {
  it('holds the channel limit: 128 subscribed, the rest too_many_channels, state bounded and freed', async () => {
    const { srv: s, bystander } = await start({ messageRate: 0 });
    const c = await rtWith(s, ['chat:*']);
    // Commands run in order: the last answer of a burst comes after all the others.
    expect(await floodReading(c)).toMatchObject({
      op: 'error',
      code: 'too_many_channels',
      details: { max: MAX_CHANNELS },
    });
    expect(answers(c)).toEqual(
      new Map([
        ['ok', MAX_CHANNELS],
        ['too_many_channels', FLOOD - MAX_CHANNELS],
      ]),
    );
    // Each subscription is one channel plus its join/leave feed; nothing else was kept.
    expect(s.server.hub.channelCount).toBe(2 * MAX_CHANNELS);
    await bystander.checkpoint();
    await c.close();
    await vi.waitFor(() => expect(s.server.hub.channelCount).toBe(0));
    expect(await s.server.hub.presence('chat:flood-1')).toEqual([]);
    await bystander.checkpoint();
  });

  it('refuses them all with forbidden for a token granting other channels, keeping nothing', async () => {
    const { srv: s, bystander } = await start({ messageRate: 0 });
    const c = await rtWith(s, ['chat:mine']);
    expect(await floodReading(c)).toMatchObject({ code: 'forbidden' });
    expect(answers(c)).toEqual(new Map([['forbidden', FLOOD]]));
    expect(s.server.hub.channelCount).toBe(0);
    await c.call('ping');
    await c.close();
    await bystander.checkpoint();
  });

  it('with the default message rate, the flood is cut with 4029 and its subscriptions are freed', async () => {
    const { srv: s, bystander } = await start({});
    const c = await rtWith(s, ['chat:*']);
    flood(c);
    expect(await c.closed).toEqual({ code: 4029, reason: 'rate limited: too many messages' });
    const counts = answers(c);
    // The first 1000 (the burst) were accepted, the next ones answered rate_limited until the
    // strikes ran out; accepted commands still queued at the close were not run.
    // (The strike allowance refills at 1/s, so a slow run may lose one more.)
    expect(counts.get('rate_limited')).toBeGreaterThanOrEqual(10);
    expect(counts.get('rate_limited')).toBeLessThanOrEqual(12);
    expect(counts.get('ok') ?? 0).toBeLessThanOrEqual(MAX_CHANNELS);
    expect(
      [...counts.keys()].filter((k) => !['ok', 'too_many_channels', 'rate_limited'].includes(k)),
    ).toEqual([]);
    await vi.waitFor(() => expect(s.server.hub.channelCount).toBe(0));
    await bystander.checkpoint();
  });
});
