// What wirehub adds to a Flyte run: the same runs against the Flyte stand-in (in this process),
// once straight through a Connect client (CreateRun, WatchActionDetails until the final phase,
// GetActionData: what the SDK's `flyte.run` + `run.wait` do) as the baseline, and once through
// wirehub (a /task-runner client: request → started → every update → SUCCEEDED with outputs,
// the run stored in SQLite and published on run:<id>).
//
// - per run: one run at a time, a task that goes INITIALIZING → RUNNING → SUCCEEDED at once.
// - per relayed update: one run whose task fails UPDATES/3 attempts before it succeeds (each
//   attempt is three updates: QUEUED retry, INITIALIZING, RUNNING), each phase held long
//   enough (PHASE_MS) for every watcher to see it; the difference between the two ways,
//   divided by the updates, is what wirehub costs each update (store, publish, send).
//
// Run: npm run bench:flyte   (env: RUNS=200 UPDATES=300 PHASE_MS=2)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';
import { createServer } from '../src/index.js';
import { connectFlyte } from '../src/tasks/executors/flyte/client.js';
import { resolveFlyteConfig } from '../src/tasks/executors/flyte/config.js';
import { ActionPhase } from '../src/tasks/executors/flyte/idl.js';
import { lit, t } from '../test/support/flyte-literals.js';
import { FlyteStandin, type StandinTask, starting } from '../test/support/flyte-standin.js';
import { TaskRunnerClient } from '../test/support/task-runner-client.js';

const RUNS = Number(process.env.RUNS ?? 200);
const UPDATES = Number(process.env.UPDATES ?? 300);
const PHASE_MS = Number(process.env.PHASE_MS ?? 2);
const ATTEMPTS = Math.max(2, Math.round(UPDATES / 3));

const base = { project: 'bench', domain: 'development', version: 'v1' };
const quick: StandinTask = {
  ...base,
  name: 'quick',
  inputs: [['n', t.int]],
  outputs: [['n', t.int]],
  async behave(ctx) {
    starting(ctx);
    return { outputs: { n: ctx.inputs.get('n') ?? lit.int(0) } };
  },
};
const chatty: StandinTask = {
  ...base,
  name: 'chatty',
  retries: ATTEMPTS - 1,
  inputs: [['n', t.int]],
  outputs: [['n', t.int]],
  async behave(ctx) {
    await ctx.sleep(PHASE_MS);
    ctx.phase(ActionPhase.INITIALIZING);
    await ctx.sleep(PHASE_MS);
    ctx.phase(ActionPhase.RUNNING);
    await ctx.sleep(PHASE_MS);
    if (ctx.attempt < ATTEMPTS) return { error: { kind: 'USER', message: `attempt ${ctx.attempt}` } };
    return { outputs: { n: ctx.inputs.get('n') ?? lit.int(0) } };
  },
};

const flyte = await FlyteStandin.start({ tasks: [quick, chatty] });
const client = connectFlyte(resolveFlyteConfig({ endpoint: flyte.url, org: 'bench' }));
let names = 0;

/** The baseline: a run as an SDK user starts and follows it, straight over Connect. Returns the snapshots seen. */
async function direct(task: string): Promise<number> {
  names += 1;
  const id = { org: 'bench', project: base.project, domain: base.domain, name: `direct${names}` };
  await client.runs.createRun({
    id: { case: 'runId', value: id },
    task: { case: 'taskId', value: { org: 'bench', ...base, name: task } },
    inputWrapper: { case: 'inputs', value: { literals: [{ name: 'n', value: lit.int(names) }] } },
  });
  let seen = 0;
  for (;;) {
    try {
      for await (const res of client.runs.watchActionDetails({ actionId: { run: id, name: 'a0' } })) {
        seen += 1;
        if (res.details?.status?.phase === ActionPhase.SUCCEEDED) {
          await client.runs.getActionData({ actionId: { run: id, name: 'a0' } });
          return seen;
        }
      }
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.Unavailable)) throw err;
    }
  }
}

const server = await createServer({
  port: 0,
  logLevel: 'silent',
  defaultMetrics: false,
  dataDir: mkdtempSync(join(tmpdir(), 'wirehub-bench-')),
  tasks: { flyte: { endpoint: flyte.url, org: 'bench' } },
});
const address = await server.listen();
const ws = await TaskRunnerClient.connect(address.wsUrl);

/** Through wirehub: resolves with the updates the client got. */
async function viaWirehub(task: string): Promise<number> {
  names += 1;
  const answer = await ws.request({ ...base, task, inputs: { n: names } });
  if (answer.status !== 'started') throw new Error(`refused: ${JSON.stringify(answer)}`);
  const id = answer.run_id as string;
  // A loaded machine may take long: wait as long as it takes (the harness's 15 s is for tests).
  await ws.until(
    () => ws.updates(id).some((u) => u.outputs !== undefined || u.error !== undefined),
    'the end',
    600_000,
  );
  const end = await ws.ended(id);
  if (end.status !== 'SUCCEEDED') throw new Error(`run ended ${end.status}`);
  return ws.updates(answer.run_id as string).length;
}

async function time(f: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

// Warm up both paths (JIT, connections, the task lookup cache).
for (let i = 0; i < 20; i += 1) {
  await direct('quick');
  await viaWirehub('quick');
}
const directRuns: number[] = [];
const wirehubRuns: number[] = [];
for (let i = 0; i < RUNS; i += 1) {
  // Interleaved, so a slow moment of the machine hits both alike.
  directRuns.push(await time(() => direct('quick')));
  wirehubRuns.push(await time(() => viaWirehub('quick')));
}
await sleep(50);
let updates = 0;
let snapshots = 0;
const directChatty = await time(async () => {
  snapshots = await direct('chatty');
});
const wirehubChatty = await time(async () => {
  updates = await viaWirehub('chatty');
});

const dRun = median(directRuns);
const wRun = median(wirehubRuns);
const perUpdate = (wirehubChatty - directChatty) / updates;
const result = {
  runs: RUNS,
  direct_run_ms_p50: Number(dRun.toFixed(3)),
  wirehub_run_ms_p50: Number(wRun.toFixed(3)),
  overhead_per_run_ms: Number((wRun - dRun).toFixed(3)),
  run_ratio: Number((wRun / dRun).toFixed(2)),
  chatty_attempts: ATTEMPTS,
  chatty_updates_relayed: updates,
  chatty_snapshots_direct: snapshots,
  direct_chatty_ms: Number(directChatty.toFixed(1)),
  wirehub_chatty_ms: Number(wirehubChatty.toFixed(1)),
  chatty_ratio: Number((wirehubChatty / directChatty).toFixed(3)),
  overhead_per_update_ms: Number(perUpdate.toFixed(3)),
};
console.log(
  [
    `per run:    direct ${dRun.toFixed(2)} ms, via wirehub ${wRun.toFixed(2)} ms (p50 of ${RUNS}): +${(wRun - dRun).toFixed(2)} ms, ×${(wRun / dRun).toFixed(2)}`,
    `per update: ${updates} updates relayed in ${wirehubChatty.toFixed(0)} ms vs ${directChatty.toFixed(0)} ms watching directly (×${(wirehubChatty / directChatty).toFixed(3)}): +${perUpdate.toFixed(3)} ms per update`,
  ].join('\n'),
);
console.log(JSON.stringify(result));
ws.close();
await server.close();
await flyte.close();
