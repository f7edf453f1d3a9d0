// Publish cost of channels with history, against a channel without history in the same run:
// hub.publish() → engine (memory, or memory + SQLite) → fan-out to 100 local /rt subscribers.
// Run: npm run build && node bench/rt-publish.mjs
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rtMessageEncoder } from '../dist/endpoints/rt/encoders.js';
import { MemoryEngine } from '../dist/engine/memory/memory-engine.js';
import { SqliteEngine } from '../dist/engine/sqlite/sqlite-engine.js';
import { Hub } from '../dist/hub/hub.js';

const N = Number(process.env.N ?? 50_000);
const SUBSCRIBERS = 100;
const ROUNDS = 5;
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 64);

function session(i) {
  return {
    id: `c-${i}`,
    endpoint: 'rt',
    remoteAddress: '',
    connectedAt: new Date(),
    user: undefined,
    bufferedAmount: 0,
    isOpen: true,
    send: () => true,
    close() {},
  };
}

async function run(label, engine, channel) {
  const hub = new Hub(engine);
  await hub.start();
  for (let i = 0; i < SUBSCRIBERS; i += 1)
    await hub.subscribe(channel, { session: session(i), encoder: rtMessageEncoder });
  const data = { text: 'hello, this is a chat message', n: 0 };
  const t0 = process.hrtime.bigint();
  // IN_FLIGHT publications at a time, as the clients of a busy server keep: with SQLite an ack
  // waits for its group commit, so one at a time would measure one commit per publication.
  for (let i = 0; i < N; i += IN_FLIGHT) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + IN_FLIGHT); j += 1)
      batch.push(hub.publish({ channel, data, from: { client: 'c-pub' } }));
    await Promise.all(batch);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  await hub.close();
  return { label, perSecond: Math.round((N / ns) * 1e9) };
}

const dir = mkdtempSync(join(tmpdir(), 'wirehub-bench-'));
const results = new Map();
for (let r = 0; r < ROUNDS; r += 1) {
  for (const [label, make, channel] of [
    ['no history (broadcast), memory', () => new MemoryEngine(), 'broadcast'],
    ['history (chat:*), memory', () => new MemoryEngine(), 'chat:lobby'],
    [
      'history (chat:*), memory + SQLite',
      () => new SqliteEngine({ file: join(dir, `r${r}.db`) }),
      'chat:lobby',
    ],
  ]) {
    const { perSecond } = await run(label, make(), channel);
    results.set(label, [...(results.get(label) ?? []), perSecond]);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results.get('no history (broadcast), memory'));
console.log(`publish → ${SUBSCRIBERS} /rt subscribers, ${N} publications, median of ${ROUNDS} rounds`);
for (const [label, xs] of results) {
  const m = median(xs);
  console.log(`${label.padEnd(38)} ${String(m).padStart(8)} pub/s   ratio ${(m / base).toFixed(2)}`);
}
