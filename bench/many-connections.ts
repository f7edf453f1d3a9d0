/**
 * `npm run bench:100k`: 100,000 idle connections on one box (issue #15). One
 * `wirehub serve --workers N` (default 6) takes them all at once from several load-generator
 * processes (one 127.0.0.x source address each: one address has ~28k ephemeral ports and one
 * process 20,000 open files here), then every connection receives one broadcast. Reports the
 * server's total RSS (primary + workers) before and with the connections, per connection, per
 * worker, the time to open them all and the time until the broadcast reached every one.
 *
 *   npm run bench:100k
 *   npx tsx bench/many-connections.ts --connections 20000 --workers 2    # a smaller box
 *
 * Exits 1 when a connection failed or the broadcast missed one.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openFilesLimit } from '../src/cli/bench/connect.js';
import { wsDriver } from '../src/cli/bench/driver.js';
import { startCliServer } from '../test/support/cli.js';
import { tempDir } from '../test/support/server.js';
import { NO_LIMITS } from './support/no-limits.js';

const root = new URL('..', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '6' },
    'per-holder': { type: 'string', default: '17000' },
    concurrency: { type: 'string', default: '100' },
    timeout: { type: 'string', default: '600' },
    'broadcast-timeout': { type: 'string', default: '120' },
  },
});
const total = Number(args.connections);
const workers = Number(args.workers);
const perHolder = Math.min(Number(args['per-holder']), total);
const holderCount = Math.ceil(total / perHolder);
const timeoutMs = Number(args.timeout) * 1000;

// Each worker holds its share (round-robin) plus its own files; each holder its share.
const limit = openFilesLimit();
const perWorker = Math.ceil(total / workers) + 200;
if (limit !== undefined && (limit < perWorker || limit < perHolder + 100)) {
  console.error(
    `the open-files limit is ${limit}: each worker needs ~${perWorker}, each load generator ~${perHolder + 100}; raise ulimit -n or use more --workers / a smaller --per-holder`,
  );
  process.exit(2);
}

interface Counts {
  type: string;
  open: number;
  failed: number;
  closed: number;
  reached: number;
  messages: number;
  errors: Record<string, number>;
}

/** The pids of `pid` and of every process below it. */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {}
  return [pid, ...children.flatMap(processTree)];
}

/**
 * Memory in MB of the server's processes (the primary first, then each worker). RSS counts the
 * pages of the node binary and its libraries in every process that maps them (~45 MB each
 * here), so a sum of RSS over N processes counts them N times; PSS (/proc/<pid>/smaps_rollup)
 * shares each page among the processes that map it, so its sum is what the server uses.
 */
function treeMemoryMb(pid: number): { rss: number; pss: number; each: { rss: number; pss: number }[] } {
  const each = processTree(pid).map((p) => {
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
      return { rss: kb('Rss') / 1024, pss: kb('Pss') / 1024 };
    } catch {
      return { rss: 0, pss: 0 };
    }
  });
  return {
    rss: each.reduce((a, b) => a + b.rss, 0),
    pss: each.reduce((a, b) => a + b.pss, 0),
    each,
  };
}

const mb = (n: number) => Math.round(n * 10) / 10;

function sum(list: Counts[]) {
  const out = {
    open: 0,
    failed: 0,
    closed: 0,
    reached: 0,
    messages: 0,
    errors: {} as Record<string, number>,
  };
  for (const c of list) {
    out.open += c.open;
    out.failed += c.failed;
    out.closed += c.closed;
    out.reached += c.reached;
    out.messages += c.messages;
    for (const [k, v] of Object.entries(c.errors)) out.errors[k] = (out.errors[k] ?? 0) + v;
  }
  return out;
}

const holders: ChildProcess[] = [];

/** Sends `cmd` to every holder and resolves with each one's first answer of `type`. */
function ask(cmd: string, type: string, ms: number): Promise<Counts[]> {
  return Promise.all(
    holders.map(
      (h) =>
        new Promise<Counts>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${type} within ${ms} ms`)), ms);
          const on = (msg: Counts) => {
            if (msg.type !== type) return;
            clearTimeout(timer);
            h.off('message', on);
            resolve(msg);
          };
          h.on('message', on);
          h.send({ cmd });
        }),
    ),
  );
}

const dataDir = tempDir();
const server = await startCliServer([
  '--workers',
  String(workers),
  '--data-dir',
  dataDir,
  '--dashboard',
  'false',
  '--drain-window',
  '0',
  // The default cap of open WebSockets (20,000) is what this bench goes past.
  '--max-connections',
  '0',
  ...NO_LIMITS,
]);
const pid = server.child.pid as number;

/** /healthz until every worker is up (the primary answers before the last has started). */
async function workersUp(): Promise<void> {
  const until = performance.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${server.url}/healthz`);
      const body = (await res.json()) as { workers?: { alive: number; wanted: number } };
      // --workers 1 is the single process: no workers field, up once it answers.
      if (!body.workers || body.workers.alive === body.workers.wanted) return;
    } catch {}
    if (performance.now() > until) throw new Error('the workers did not all start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Open connections per worker, from the aggregated /metrics. */
async function perWorkerConnections(): Promise<Record<string, number>> {
  if (workers === 1) return {};
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^wirehub_worker_connections\{worker="([^"]+)"\} (\d+)/gm))
    out[m[1] as string] = Number(m[2]);
  return out;
}

let failedRun = false;
try {
  await workersUp();
  const before = treeMemoryMb(pid);
  console.error(
    `server up: ${workers} workers, ${mb(before.pss)} MB (PSS) before any connection; ${holderCount} load generators of ≤${perHolder}`,
  );
  for (let h = 0; h < holderCount; h += 1) {
    const count = Math.min(perHolder, total - h * perHolder);
    holders.push(
      fork(join(root, 'bench/support/idle-holders.ts'), [], {
        execArgv: ['--import', 'tsx'],
        env: {
          ...process.env,
          HOLDER_CONFIG: JSON.stringify({
            url: `${server.wsUrl}/broadcast`,
            count,
            localAddress: `127.0.0.${2 + h}`,
            concurrency: Number(args.concurrency),
          }),
        },
      }),
    );
  }
  const openStart = performance.now();
  const progress = setInterval(() => {
    void ask('count', 'counts', 10_000).then(
      (c) =>
        console.error(`  ${sum(c).open} open after ${((performance.now() - openStart) / 1000).toFixed(0)} s`),
      () => {},
    );
  }, 10_000);
  const opened = sum(await ask('open', 'opened', timeoutMs).finally(() => clearInterval(progress)));
  const openMs = performance.now() - openStart;
  console.error(
    `${opened.open} of ${total} open in ${(openMs / 1000).toFixed(1)} s (${opened.failed} failed)`,
  );

  const held = treeMemoryMb(pid);
  const byWorker = await perWorkerConnections();

  // One broadcast from one more client: every held connection must receive it.
  const sender = await wsDriver.connect(`${server.wsUrl}/broadcast`, { timeoutMs: 10_000 });
  const sentAt = performance.now();
  sender.send('one broadcast to every connection');
  let reached = sum(await ask('count', 'counts', 30_000));
  while (
    reached.reached < opened.open &&
    performance.now() - sentAt < Number(args['broadcast-timeout']) * 1000
  ) {
    await new Promise((r) => setTimeout(r, 250));
    reached = sum(await ask('count', 'counts', 30_000));
  }
  const broadcastMs = performance.now() - sentAt;
  const after = treeMemoryMb(pid);
  sender.terminate();

  const report = {
    connections: total,
    workers,
    loadGenerators: holderCount,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    open: opened.open,
    failed: opened.failed,
    openSeconds: mb(openMs / 1000),
    handshakesPerSec: Math.round(opened.open / (openMs / 1000)),
    connectionsPerWorker: byWorker,
    serverMemoryMb: {
      pss: {
        beforeConnections: mb(before.pss),
        withConnections: mb(held.pss),
        afterBroadcast: mb(after.pss),
      },
      rssSum: {
        beforeConnections: mb(before.rss),
        withConnections: mb(held.rss),
        afterBroadcast: mb(after.rss),
      },
      primaryPss: `${mb(before.each[0]?.pss ?? 0)} → ${mb(after.each[0]?.pss ?? 0)}`,
      workersPss: after.each.slice(1).map((w, i) => `${mb(before.each[i + 1]?.pss ?? 0)} → ${mb(w.pss)}`),
    },
    perConnectionKb: {
      pssIncludingBase: mb((after.pss * 1024) / Math.max(1, opened.open)),
      pssAboveBase: mb(((after.pss - before.pss) * 1024) / Math.max(1, opened.open)),
    },
    goalUnder1GB: { pss: after.pss < 1024, rssSum: after.rss < 1024 },
    broadcast: {
      reached: reached.reached,
      of: opened.open,
      messages: reached.messages,
      allReachedMs: Math.round(broadcastMs),
    },
    closedDuringRun: reached.closed,
    errors: { ...opened.errors, ...reached.errors },
  };
  console.log(JSON.stringify(report, null, 2));
  failedRun = opened.open < total || reached.reached < opened.open || reached.messages !== opened.open;
} finally {
  for (const h of holders) h.kill('SIGKILL');
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
if (failedRun) process.exitCode = 1;
