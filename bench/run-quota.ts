// What the per-user run limit costs the run store: create a run and end it, N times, with
// and without a quota, on SQLite and on a private redis-server (the count and the create
// are one transaction / one Lua script). Median of 5 rounds, ratio in the same run.
// Run: npm run bench:quota
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisRunStore } from '../src/tasks/runs/redis/store.js';
import type { NewRun, RunStore } from '../src/tasks/runs/run-store.js';
import { SqliteRunStore } from '../src/tasks/runs/sqlite-run-store.js';
import { RedisProcess } from '../test/support/redis.js';

const N = Number(process.env.N ?? 5000);
const ROUNDS = 5;
const base: Omit<NewRun, 'run_id'> = {
  project: 'p',
  domain: 'd',
  task: 'n',
  version: 'v1',
  inputs: { a: 1 },
  attempt: 1,
  max_attempts: 1,
  user: 'u',
};

async function round(store: RunStore, quota: boolean, tag: string): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i += 1) {
    const runId = `r-${tag}-${i}`;
    const limit = quota ? { quota: { key: `runs:user:${tag}`, max: 1 } } : {};
    await store.createRun({ ...base, run_id: runId, ...limit }, 'queued');
    await store.apply(runId, { status: 'ABORTED', message: 'done' });
  }
  return Number(process.hrtime.bigint() - start) / 1e3 / N;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const redis = await RedisProcess.start();
const stores: [string, () => RunStore][] = [
  ['sqlite', () => new SqliteRunStore(join(mkdtempSync(join(tmpdir(), 'wh-quota-')), 'runs.db'))],
  ['redis', () => new RedisRunStore({ url: redis.url, prefix: 'bench:' })],
];
console.log(`run store: create + end one run, ${N} per round, median of ${ROUNDS} rounds`);
try {
  for (const [name, make] of stores) {
    const store = make();
    await store.open();
    const off: number[] = [];
    const on: number[] = [];
    for (let r = 0; r < ROUNDS; r += 1) {
      off.push(await round(store, false, `off${r}`));
      on.push(await round(store, true, `on${r}`));
    }
    await store.close();
    console.log(
      `${name.padEnd(7)} no quota ${median(off).toFixed(1).padStart(7)} µs/run   quota ${median(on).toFixed(1).padStart(7)} µs/run   ratio ${(median(on) / median(off)).toFixed(2)}`,
    );
  }
} finally {
  await redis.stop();
}
