// Cross-node fan-out over Redis: the same load with the subscribers all on one node, then spread
// over two nodes, in the same run (same machine, same Redis, same build), so the ratio shows
// what crossing nodes costs. Each node is a real `wirehub serve --redis` process; the
// publisher and the subscribers are plain /chat/{room} clients in this process.
//
// Run: npm run bench:cluster   (env: SUBSCRIBERS=100 RATE=500 SECONDS=2 ROUNDS=3)
import WebSocket from 'ws';
import { type CliServer, startCliServer } from '../test/support/cli.js';
import { RedisProcess } from '../test/support/redis.js';

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 100);
const RATE = Number(process.env.RATE ?? 500); // messages per second, open loop (raise it to find the ceiling)
const SECONDS = Number(process.env.SECONDS ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MESSAGES = Math.round(RATE * SECONDS);
const TICK_MS = 5;

interface Result {
  deliveriesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** One measured run: subscriber i on node i % nodes.length, the publisher on node 0. */
async function run(nodes: CliServer[], room: string): Promise<Result> {
  const path = `/chat/${room}`;
  const subscribers = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, (_, i) => connect(`${nodes[i % nodes.length]?.wsUrl}${path}`)),
  );
  const publisher = await connect(`${nodes[0]?.wsUrl}${path}`);
  const latencies = new Float64Array(SUBSCRIBERS * MESSAGES);
  let received = 0;
  let lastAt = 0n;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  let warm = 0;
  let warmed: () => void = () => {};
  const warmedUp = new Promise<void>((resolve) => {
    warmed = resolve;
  });
  for (const ws of subscribers) {
    ws.on('message', (data) => {
      const now = process.hrtime.bigint();
      const [seq, sentAt] = String(data).split(' ');
      if (seq === 'w') {
        warm += 1;
        if (warm === SUBSCRIBERS * 20) warmed();
        return;
      }
      latencies[received] = Number(now - BigInt(sentAt ?? '0')) / 1e6;
      received += 1;
      lastAt = now;
      if (received === latencies.length) done();
    });
  }
  // Warm-up: connections, JIT, the nodes' subscriptions.
  for (let i = 0; i < 20; i += 1) publisher.send('w 0');
  await warmedUp;

  const start = process.hrtime.bigint();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      // Catch up to the schedule (RATE per second since start), whatever the timer's drift:
      // the offered rate is RATE, not a rounded per-tick count.
      const due = Math.min(MESSAGES, Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * RATE) + 1);
      for (; sent < due; sent += 1) {
        publisher.send(`${sent} ${process.hrtime.bigint()}`);
      }
      if (sent >= MESSAGES) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const timeout = setTimeout(done, 60_000);
  await finished;
  clearTimeout(timeout);
  const seconds = Number(lastAt - start) / 1e9;
  for (const ws of [...subscribers, publisher]) ws.terminate();
  if (received < latencies.length) console.warn(`  (only ${received} of ${latencies.length} deliveries)`);
  const sorted = latencies.subarray(0, received).sort();
  return {
    deliveriesPerSecond: Math.round(received / seconds),
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const redis = await RedisProcess.start();
const env = { WIREHUB_REDIS_URL: redis.url, WIREHUB_LOG_LEVEL: 'info' };
const nodes = [await startCliServer([], env), await startCliServer([], env)];
try {
  const one = nodes.slice(0, 1);
  const results: Record<'one' | 'spread', Result[]> = { one: [], spread: [] };
  for (let r = 0; r < ROUNDS; r += 1) {
    // Alternate the order so neither setup always runs on a warmer machine.
    const order = r % 2 === 0 ? (['one', 'spread'] as const) : (['spread', 'one'] as const);
    for (const setup of order) results[setup].push(await run(setup === 'one' ? one : nodes, `b${r}${setup}`));
  }
  const summary = (rs: Result[]) => ({
    deliveriesPerSecond: median(rs.map((x) => x.deliveriesPerSecond)),
    p50Ms: median(rs.map((x) => x.p50Ms)),
    p99Ms: median(rs.map((x) => x.p99Ms)),
  });
  const oneNode = summary(results.one);
  const spread = summary(results.spread);
  const line = (label: string, s: Result) =>
    `${label.padEnd(22)} ${String(s.deliveriesPerSecond).padStart(8)} deliveries/s   p50 ${s.p50Ms.toFixed(2)} ms   p99 ${s.p99Ms.toFixed(2)} ms`;
  console.log(
    `cross-node fan-out over Redis: ${SUBSCRIBERS} /chat subscribers, ${RATE} msg/s for ${SECONDS} s ` +
      `(offered ${RATE * SUBSCRIBERS} deliveries/s), median of ${ROUNDS} rounds`,
  );
  console.log(line('all on 1 node', oneNode));
  console.log(line('spread over 2 nodes', spread));
  console.log(
    `ratio spread / one node: deliveries/s ${(spread.deliveriesPerSecond / oneNode.deliveriesPerSecond).toFixed(2)}, ` +
      `p99 ${(spread.p99Ms / oneNode.p99Ms).toFixed(2)}`,
  );
} finally {
  for (const node of nodes) node.child.kill('SIGTERM');
  await Promise.all(nodes.map((n) => n.exited));
  await redis.stop();
}
