/**
 * Acked publishes per second on the embedded engine (SQLite, channels with history): N `/rt`
 * clients publish flat out, each with W commands in flight, and the bench counts the acks
 * (`reply` frames) over a fixed window. It measures two builds of `wirehub serve` in one run,
 * alternating them (A B B A …) on fresh data dirs, and prints the median of each and their
 * ratio: an ack means "committed" since the durable-ack change, and group commit must keep
 * the throughput (goal: ≥ 0.8× the build before it). Besides acks per wall-clock second it
 * prints acks per CPU second of the server process (from /proc): on a machine shared with
 * other work, that one moves less with the load of the neighbours.
 *
 *   npm run build && npx tsx bench/acked-publish.ts --baseline-ref main
 *   npx tsx bench/acked-publish.ts --baseline /path/to/other/dist [--clients 16] [--window 8]
 *     [--channels 16] [--seconds 4] [--reps 3] [--sync normal|full]
 *
 * `--baseline-ref` builds that git ref in a temp dir (git archive + tsc, with this checkout's
 * node_modules): the checkout itself is not touched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { readProcSample } from '../src/cli/bench/proc-stats.js';
import { freePort, ServerProcess } from './support/servers.js';

const root = new URL('..', import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string' },
    'baseline-ref': { type: 'string' },
    current: { type: 'string', default: join(root, 'dist') },
    clients: { type: 'string', default: '16' },
    window: { type: 'string', default: '8' },
    channels: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '1' },
    reps: { type: 'string', default: '3' },
    sync: { type: 'string', default: 'normal' },
  },
});

const clients = Number(args.clients);
const window = Number(args.window);
const channels = Number(args.channels);
const measureMs = Number(args.seconds) * 1000;
const warmupMs = Number(args.warmup) * 1000;
const reps = Number(args.reps);

/** Builds `ref` of this repository in a temp dir and returns its dist/. */
function buildRef(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wirehub-baseline-'));
  const archive = execFileSync('git', ['-C', root, 'archive', ref]);
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: dir,
      stdio: 'inherit',
    },
  );
  return join(dir, 'dist');
}

interface Build {
  label: string;
  dist: string;
  /** Acks per wall-clock second, one per rep. */
  results: number[];
  /** Acks per CPU second of the server, one per rep. */
  perCpu: number[];
}

function builds(): Build[] {
  const current: Build = { label: 'current', dist: args.current as string, results: [], perCpu: [] };
  const baselineDist = args.baseline ?? (args['baseline-ref'] ? buildRef(args['baseline-ref']) : undefined);
  if (!baselineDist) throw new Error('give --baseline <dist dir> or --baseline-ref <git ref>');
  const baseline: Build = {
    label: args['baseline-ref'] ? `baseline (${args['baseline-ref']})` : 'baseline',
    dist: baselineDist,
    results: [],
    perCpu: [],
  };
  for (const b of [current, baseline]) {
    if (!existsSync(join(b.dist, 'cli/main.js')))
      throw new Error(`${b.dist}/cli/main.js is missing: build it first`);
  }
  return [baseline, current];
}

/** One `/rt` client publishing flat out with `window` commands in flight; counts acks. */
async function publisher(
  url: string,
  channel: string,
  counter: { acks: number; errors: number; stop: boolean },
) {
  const ws = new WebSocket(url, 'wirehub.v1', { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let id = 0;
  const data = { text: 'hello, this is a chat message', n: 0 };
  const send = () => {
    id += 1;
    data.n = id;
    ws.send(JSON.stringify({ op: 'publish', id, channel, data }));
  };
  const done = new Promise<void>((resolve) => {
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { op: string };
      if (frame.op === 'reply') counter.acks += 1;
      else if (frame.op === 'error') counter.errors += 1;
      else return;
      if (counter.stop) {
        if (ws.readyState === WebSocket.OPEN) ws.close();
        return;
      }
      send();
    });
    ws.on('close', () => resolve());
  });
  for (let i = 0; i < window; i += 1) send();
  return done;
}

async function measure(build: Build): Promise<{ perSecond: number; perCpuSecond: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wirehub-bench-acked-'));
  const namespaces = join(dataDir, 'namespaces.json');
  writeFileSync(
    namespaces,
    JSON.stringify([{ pattern: 'bench:*', history: { size: 1000, ttlMs: 3_600_000 } }]),
  );
  const port = await freePort();
  const flags = [
    '--data-dir',
    dataDir,
    '--namespaces',
    namespaces,
    '--message-rate',
    '0',
    '--log-level',
    'warn',
  ];
  // Only the current build gets --sqlite-sync: a baseline from before it has no such flag
  // (and syncs like `normal`), so `--sync full` measures what `full` costs against that.
  if (build.label === 'current' && args.sync !== 'normal') flags.push('--sqlite-sync', args.sync as string);
  const server = await ServerProcess.start(
    { args: [join(build.dist, 'cli/main.js'), 'serve', ...flags] },
    port,
  );
  const counter = { acks: 0, errors: 0, stop: false };
  const url = `ws://127.0.0.1:${port}/rt`;
  const running = Array.from({ length: clients }, (_, i) =>
    publisher(url, `bench:room-${i % channels}`, counter),
  );
  await new Promise((r) => setTimeout(r, warmupMs));
  const from = counter.acks;
  const cpu0 = readProcSample(server.pid).cpuMs;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, measureMs));
  const acked = counter.acks - from;
  const elapsed = performance.now() - t0;
  const cpuMs = readProcSample(server.pid).cpuMs - cpu0;
  counter.stop = true;
  await Promise.all(running);
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  if (counter.errors > 0) throw new Error(`${build.label}: ${counter.errors} publishes were refused`);
  return {
    perSecond: Math.round((acked / elapsed) * 1000),
    perCpuSecond: Math.round((acked / cpuMs) * 1000),
  };
}

const all = builds();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
console.log(
  `acked publishes/s: ${clients} /rt clients × ${window} in flight, ${channels} channels with history, current build with sync ${args.sync}, ${args.seconds} s windows, ${reps} reps (alternating)`,
);
for (let r = 0; r < reps; r += 1) {
  const order = r % 2 === 0 ? all : [...all].reverse();
  for (const build of order) {
    const { perSecond, perCpuSecond } = await measure(build);
    build.results.push(perSecond);
    build.perCpu.push(perCpuSecond);
    console.log(
      `  rep ${r + 1} ${build.label.padEnd(22)} ${String(perSecond).padStart(8)} acks/s ${String(perCpuSecond).padStart(8)} acks/CPU-s`,
    );
  }
}
const [baseline, current] = all as [Build, Build];
for (const build of all) {
  console.log(
    `${build.label.padEnd(24)} median ${String(median(build.results)).padStart(8)} acks/s ${String(median(build.perCpu)).padStart(8)} acks/CPU-s`,
  );
}
console.log(
  `ratio current / baseline: ${(median(current.results) / median(baseline.results)).toFixed(2)} (acks/s), ${(median(current.perCpu) / median(baseline.perCpu)).toFixed(2)} (acks per server CPU second)`,
);
