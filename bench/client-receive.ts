/**
 * What the client SDK costs on the receiving side: the same publications delivered to a raw
 * `ws` socket on `/rt` that only `JSON.parse`s each frame (the baseline), and to a
 * `WirehubClient` subscription (which checks every frame against the protocol's zod schemas,
 * dedupes by offset and calls the handler). Both are measured in the same run, in batches
 * (publish a batch, wait until it has all arrived), and the ratio is printed.
 *
 *   npm run bench:client -- --messages 20000 --batch 500
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { WirehubClient } from '../src/client/index.js';
import { createServer, type WirehubServer } from '../src/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
  },
});
const total = Number(values.messages);
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const payload = { text: 'a chat message of ordinary length', n: 0 };

/** Publishes `total` messages in batches; `received()` tells how many arrived so far. */
async function pump(
  server: WirehubServer,
  channel: string,
  received: () => number,
  wake: { fn?: () => void },
) {
  const started = performance.now();
  for (let sent = 0; sent < total; ) {
    const n = Math.min(batch, total - sent);
    const publishes: Promise<unknown>[] = [];
    for (let i = 0; i < n; i += 1) {
      publishes.push(server.hub.publish({ channel, data: { ...payload, n: sent + i } }));
    }
    await Promise.all(publishes);
    sent += n;
    while (received() < sent) await new Promise<void>((resolve) => (wake.fn = resolve));
  }
  return performance.now() - started;
}

async function raw(server: WirehubServer, wsUrl: string, channel: string): Promise<number> {
  const ws = new WebSocket(`${wsUrl}/rt`, 'wirehub.v1');
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let count = 0;
  const wake: { fn?: () => void } = {};
  const subscribed = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { op: string };
      if (frame.op === 'reply') resolve();
      else if (frame.op === 'message') {
        count += 1;
        wake.fn?.();
      }
    });
  });
  ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel }));
  await subscribed;
  const ms = await pump(server, channel, () => count, wake);
  ws.close();
  return ms;
}

async function sdk(server: WirehubServer, wsUrl: string, channel: string): Promise<number> {
  const client = new WirehubClient({ url: wsUrl, WebSocket });
  let count = 0;
  const wake: { fn?: () => void } = {};
  await client.subscribe(channel, () => {
    count += 1;
    wake.fn?.();
  });
  const ms = await pump(server, channel, () => count, wake);
  await client.close();
  return ms;
}

const server = await createServer({
  port: 0,
  logLevel: 'silent',
  defaultMetrics: false,
  tasks: false,
  dataDir: mkdtempSync(join(tmpdir(), 'wirehub-bench-')),
  namespaces: [{ pattern: 'bench:*' }],
});
const { wsUrl } = await server.listen();
const results = { raw: [] as number[], sdk: [] as number[] };
for (let r = 0; r < rounds; r += 1) {
  results.raw.push(await raw(server, wsUrl, `bench:raw${r}`));
  results.sdk.push(await sdk(server, wsUrl, `bench:sdk${r}`));
}
await server.close();
const best = (xs: number[]) => Math.min(...xs);
const rate = (ms: number) => Math.round((total / ms) * 1000);
console.log(`messages per round: ${total}, batch ${batch}, best of ${rounds} rounds`);
console.log(`raw ws + JSON.parse : ${rate(best(results.raw))} msg/s`);
console.log(`WirehubClient       : ${rate(best(results.sdk))} msg/s`);
console.log(
  `ratio sdk/raw       : ${(best(results.raw) / best(results.sdk)).toFixed(2)} (1.00 = no overhead)`,
);
