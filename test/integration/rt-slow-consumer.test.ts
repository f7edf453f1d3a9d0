import type { Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;

afterEach(async () => {
  await srv.close();
});

it('closes a slow /rt client with 4008; it reconnects and recovers every publication from history', async () => {
  srv = await startServer({
    maxQueuedBytes: 64 * 1024,
    namespaces: [{ pattern: 'feed:*', history: { size: 10_000, ttlMs: 60_000 } }],
  });
  const slow = await RtClient.connect(`${srv.wsUrl}/rt`);
  await slow.call('subscribe', { channel: 'feed:x' });
  const socket = (slow.ws as unknown as { _socket: Socket })._socket;
  socket.pause();

  const stats = srv.server.metrics.endpoint('rt');
  const filler = 'x'.repeat(8 * 1024);
  let published = 0;
  while (stats.slowDisconnects === 0) {
    published += 1;
    await srv.server.hub.publish({ channel: 'feed:x', data: { n: published, filler } });
    expect(published).toBeLessThan(20_000);
  }
  // A few more after the cut: the client must get these from history too.
  for (let i = 0; i < 5; i += 1) {
    published += 1;
    await srv.server.hub.publish({ channel: 'feed:x', data: { n: published, filler } });
  }
  socket.resume();
  expect((await slow.closed).code).toBe(4008);

  const got: { epoch: string; offset: number; n: number }[] = slow.frames.flatMap((f) =>
    f.op === 'message'
      ? [{ epoch: f.epoch ?? '', offset: f.offset ?? 0, n: (f.data as { n: number }).n }]
      : [],
  );
  const last = got.at(-1);
  expect(last).toBeDefined();
  expect(got.map((m) => m.n)).toEqual(got.map((_, i) => i + 1));

  const back = await RtClient.connect(`${srv.wsUrl}/rt`);
  const result = await back.call<{ recovered: boolean; publications: { data: { n: number } }[] }>(
    'subscribe',
    {
      channel: 'feed:x',
      since: { epoch: last?.epoch, offset: last?.offset },
    },
  );
  expect(result.recovered).toBe(true);
  const all = [...got.map((m) => m.n), ...result.publications.map((p) => p.data.n)];
  expect(all).toEqual(Array.from({ length: published }, (_, i) => i + 1));
  back.ws.terminate();
});
