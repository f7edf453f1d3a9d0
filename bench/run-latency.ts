// What the BullMQ executor costs a run: the same trivial runs (word-count of a short text)
// through the embedded executor (worker threads in the process, SQLite) and through the
// BullMQ executor (Redis queue, run records in Redis, the same node's task workers), in the
// same run on the same machine. Latency: submit → SUCCEEDED stored, one run at a time.
// Throughput: BATCH runs submitted at once, until the last ends.
//
// Run: npm run bench:runs   (env: RUNS=200 BATCH=500 WORKERS=2)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type WirehubServer } from '../src/index.js';
import { RedisProcess } from '../test/support/redis.js';

const RUNS = Number(process.env.RUNS ?? 200);
const BATCH = Number(process.env.BATCH ?? 500);
const WORKERS = Number(process.env.WORKERS ?? 2);
const ref = { project: 'demo', domain: 'development', name: 'word-count', version: 'v1' };
const inputs = { text: 'to be or not to be that is the question' };

interface Result {
  p50: number;
  p99: number;
  runsPerSecond: number;
}

const ms = (ns: bigint) => Number(ns) / 1e6;

async function measure(server: WirehubServer): Promise<Result> {
  const runs = server.tasks?.runs;
  if (!runs) throw new Error('no task runner');
  const one = async () => {
    const record = await runs.run(ref, inputs);
    const end = await runs.waitForEnd(record.run_id);
    if (end.status !== 'SUCCEEDED') throw new Error(`run ${record.run_id} ended ${end.status}`);
  };
  for (let i = 0; i < 20; i += 1) await one(); // warm up threads, JIT, connections
  const latencies: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const t0 = process.hrtime.bigint();
    await one();
    latencies.push(ms(process.hrtime.bigint() - t0));
  }
  latencies.sort((a, b) => a - b);
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: BATCH }, one));
  const seconds = ms(process.hrtime.bigint() - t0) / 1000;
  return {
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? Number.NaN,
    p99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? Number.NaN,
    runsPerSecond: BATCH / seconds,
  };
}

async function withServer(
  options: Parameters<typeof createServer>[0],
  f: (s: WirehubServer) => Promise<Result>,
) {
  const server = await createServer({
    port: 0,
    logLevel: 'silent',
    defaultMetrics: false,
    dataDir: mkdtempSync(join(tmpdir(), 'wirehub-bench-')),
    ...options,
  });
  await server.listen();
  try {
    return await f(server);
  } finally {
    await server.close();
  }
}

const redis = await RedisProcess.start();
try {
  const tasks = { poolSize: WORKERS, queueSize: BATCH + 10 };
  const embedded = await withServer({ tasks }, measure);
  const bullmq = await withServer({ redis: redis.url, tasks }, measure);
  const fmt = (r: Result) =>
    `p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${r.runsPerSecond.toFixed(0)} runs/s`;
  console.log(
    `word-count runs, ${WORKERS} task workers, ${RUNS} sequential + ${BATCH} at once (node ${process.version})`,
  );
  console.log(`  embedded (threads, SQLite):        ${fmt(embedded)}`);
  console.log(`  bullmq (Redis queue + Redis store): ${fmt(bullmq)}`);
  console.log(
    `  ratio bullmq/embedded: p50 ${(bullmq.p50 / embedded.p50).toFixed(2)}x, throughput ${(bullmq.runsPerSecond / embedded.runsPerSecond).toFixed(2)}x`,
  );
} finally {
  await redis.stop();
}
