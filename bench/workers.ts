// `serve --workers 2` against one process, in the same run (same machine, same build, same load
// generator), so the ratios show what the second worker buys: echo replies/s and fan-out
// deliveries/s, and the server's CPU per message (the whole process tree: primary + workers).
// The load generator runs in its own process; on a 2-core box it shares the cores with the
// server, which is what the issue asks to measure ("load generator included"). By default it is
// wsload, the C load generator (bench/support/wsload.c): `wirehub bench` (JavaScript, the `ws`
// client) spends more CPU per message than the server, so with it the load generator, not the
// server, is what a second worker competes with. LOADGEN=js measures with `wirehub bench`.
// Each scenario also prints the cores server and load generator used together (`coresUsed`)
// and `twoWorkersBoxBound`: the most two workers could reach on this box at the per-message
// CPU measured (server + load generator), with every core busy. Where its ratio is under 1.5,
// no server design reaches 1.5× on this box with this load.
//
// Run: npm run bench:workers
//   env: SECONDS=5 ROUNDS=2 CONNECTIONS=50 SUBSCRIBERS=500 LOADGEN=native|js
//        WINDOW=10 (echo messages in flight per connection) IN_FLIGHT=8 (fan-out publications
//        in flight; with wsload only: a publication's trip through the primary is longer, so
//        a deeper pipeline shows what the workers can do rather than the round trip)
//        PUBLISHERS=1 (fan-out: how many subscribers publish in turn; wsload only. With one,
//        the worker it landed on does all the publishing work on top of its deliveries)
//        RUNTIME=node|bun (the server's runtime; under Bun the workers share the port with
//        SO_REUSEPORT and serve on Bun's native transport)
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { CLI, type CliServer, startCliServer } from '../test/support/cli.js';
import { tempDir } from '../test/support/server.js';
import { nativeLoadProblems, runNativeLoad } from './support/native-load.js';
import { NO_LIMITS } from './support/no-limits.js';
import { bunBinary } from './support/servers.js';

const SECONDS = Number(process.env.SECONDS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 500);
const WINDOW = Number(process.env.WINDOW ?? 10);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 8);
const PUBLISHERS = Number(process.env.PUBLISHERS ?? 1);
const LOADGEN = process.env.LOADGEN ?? 'native';
const RUNTIME = process.env.RUNTIME ?? 'node';
if (RUNTIME !== 'node' && RUNTIME !== 'bun') throw new Error(`RUNTIME must be node or bun, not ${RUNTIME}`);
const BUN = RUNTIME === 'bun' ? bunBinary() : undefined;
if (LOADGEN !== 'native' && LOADGEN !== 'js') throw new Error(`LOADGEN must be native or js, not ${LOADGEN}`);
if (PUBLISHERS !== 1 && LOADGEN !== 'native') throw new Error('PUBLISHERS needs LOADGEN=native (wsload)');
const TICKS_PER_SECOND = 100;
const run = promisify(execFile);

/** CPU seconds used so far by `pid` and by its children (the workers of a primary). */
function treeCpuSeconds(pid: number): { self: number; children: number } {
  const of = (p: number): number => {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    } catch {
      return 0;
    }
  };
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {}
  return { self: of(pid), children: children.reduce((sum, child) => sum + of(child), 0) };
}

/** CPU seconds of this process's reaped children: the load generator once it has exited. */
function loadCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

/** The first value under `key` anywhere in a bench report. */
function find(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  if (key in value) return (value as Record<string, unknown>)[key];
  for (const inner of Object.values(value)) {
    const found = find(inner, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

interface Measured {
  perSecond: number;
  /** Server CPU (primary + workers) per message. */
  cpuPerMessageUs: number;
  /** The part of it spent in the primary (with --workers 1: the whole single process). */
  primaryCpuPerMessageUs: number;
  /** CPU the load generator used per message, for what the box had left for the server. */
  loadCpuPerMessageUs: number;
}

/** One measurement with wsload: it samples the server tree's CPU at the window's edges itself. */
async function measureNative(server: CliServer, scenario: 'echo' | 'fanout'): Promise<Measured> {
  const r = await runNativeLoad({
    mode: scenario,
    url: `${server.wsUrl}/${scenario === 'echo' ? 'echo' : 'broadcast'}`,
    connections: scenario === 'echo' ? CONNECTIONS : SUBSCRIBERS,
    window: WINDOW,
    inFlight: IN_FLIGHT,
    publishers: PUBLISHERS,
    payloadBytes: 64,
    warmupMs: 1_000,
    durationMs: SECONDS * 1_000,
    serverPid: server.child.pid as number,
  });
  const problems = nativeLoadProblems(r);
  if (problems.length > 0) throw new Error(`${scenario} with ${server.wsUrl}: ${problems.join(', ')}`);
  const perMessage = (ms: number) => (ms / r.messages) * 1000;
  return {
    perSecond: r.perSec,
    cpuPerMessageUs: perMessage(r.server.cpuMs + r.server.childrenCpuMs),
    primaryCpuPerMessageUs: perMessage(r.server.cpuMs),
    loadCpuPerMessageUs: perMessage(r.selfCpuMs),
  };
}

async function measure(server: CliServer, scenario: 'echo' | 'fanout'): Promise<Measured> {
  if (LOADGEN === 'native') return measureNative(server, scenario);
  const args =
    scenario === 'echo'
      ? ['bench', 'echo', '--url', `${server.wsUrl}/echo`, '--connections', String(CONNECTIONS)]
      : ['bench', 'fanout', '--url', `${server.wsUrl}/broadcast`, '--subscribers', String(SUBSCRIBERS)];
  const pid = server.child.pid as number;
  const cpuBefore = treeCpuSeconds(pid);
  const loadCpuBefore = loadCpuSeconds();
  const { stdout } = await run(
    process.execPath,
    [CLI, ...args, '--duration', `${SECONDS}s`, '--warmup', '1s', '--json', '--no-progress'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const cpuAfter = treeCpuSeconds(pid);
  const self = cpuAfter.self - cpuBefore.self;
  const cpu = self + cpuAfter.children - cpuBefore.children;
  const report = JSON.parse(stdout) as { errors?: string[] };
  const perSecond = Number(find(report, scenario === 'echo' ? 'messagesPerSec' : 'deliveriesPerSec'));
  // A refused or broken run must not print as a number (a 0/s once hid the rate limits here).
  if (!(perSecond > 0) || (report.errors?.length ?? 0) > 0) {
    throw new Error(
      `${scenario} with ${server.wsUrl}: ${perSecond}/s, errors ${JSON.stringify(report.errors)}`,
    );
  }
  // Warm-up included in the CPU window: count its messages at the same rate.
  const messages = perSecond * (SECONDS + 1);
  const load = loadCpuSeconds() - loadCpuBefore;
  return {
    perSecond,
    cpuPerMessageUs: (cpu / messages) * 1e6,
    primaryCpuPerMessageUs: (self / messages) * 1e6,
    loadCpuPerMessageUs: (load / messages) * 1e6,
  };
}

async function serve(workers: number): Promise<CliServer> {
  const args = ['--workers', String(workers), '--data-dir', tempDir(), '--dashboard', 'false', ...NO_LIMITS];
  return BUN ? startCliServer([], {}, [BUN, CLI, 'serve', '--port', '0', ...args]) : startCliServer(args);
}

async function stop(server: CliServer): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
}

const results: Record<string, Record<number, Measured[]>> = { echo: {}, fanout: {} };
// A fresh server per measurement: nothing one scenario leaves behind skews the next.
for (let round = 0; round < ROUNDS; round += 1) {
  for (const scenario of ['echo', 'fanout'] as const) {
    for (const workers of [1, 2]) {
      const server = await serve(workers);
      const m = await measure(server, scenario);
      await stop(server);
      const byWorkers = results[scenario] as Record<number, Measured[]>;
      const list = byWorkers[workers] ?? [];
      byWorkers[workers] = list;
      list.push(m);
      console.error(
        `round ${round + 1} ${scenario} workers=${workers}: ${Math.round(m.perSecond)}/s, server ${m.cpuPerMessageUs.toFixed(2)} µs CPU/msg (primary ${m.primaryCpuPerMessageUs.toFixed(2)}), load generator ${m.loadCpuPerMessageUs.toFixed(2)} µs/msg`,
      );
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const summary: Record<string, unknown> = {};
for (const scenario of ['echo', 'fanout'] as const) {
  const one = (results[scenario] as Record<number, Measured[]>)[1] ?? [];
  const two = (results[scenario] as Record<number, Measured[]>)[2] ?? [];
  const rate1 = median(one.map((m) => m.perSecond));
  const rate2 = median(two.map((m) => m.perSecond));
  const cpu1 = median(one.map((m) => m.cpuPerMessageUs));
  const cpu2 = median(two.map((m) => m.cpuPerMessageUs));
  const primary2 = median(two.map((m) => m.primaryCpuPerMessageUs));
  const load1 = median(one.map((m) => m.loadCpuPerMessageUs));
  const load2 = median(two.map((m) => m.loadCpuPerMessageUs));
  // The box is shared: server and load generator together cannot use more than every core.
  // What each set-up used, and the most two workers could reach at these per-message costs
  // if nothing ever waited: when that bound is under 1.5× the one worker's rate, the box, not
  // the server, is what stops the ratio.
  const cores = availableParallelism();
  const used = (rate: number, cpu: number, load: number) => Number(((rate * (cpu + load)) / 1e6).toFixed(2));
  const bound2 = (cores * 1e6) / (cpu2 + load2);
  summary[scenario] = {
    oneWorkerPerSecond: Math.round(rate1),
    twoWorkersPerSecond: Math.round(rate2),
    throughputRatio: Number((rate2 / rate1).toFixed(2)),
    cpuPerMessageUs: {
      one: Number(cpu1.toFixed(2)),
      two: Number(cpu2.toFixed(2)),
      twoInPrimary: Number(primary2.toFixed(2)),
      ratio: Number((cpu2 / cpu1).toFixed(2)),
    },
    loadGeneratorCpuPerMessageUs: { one: Number(load1.toFixed(2)), two: Number(load2.toFixed(2)) },
    coresUsed: { one: used(rate1, cpu1, load1), two: used(rate2, cpu2, load2), of: cores },
    twoWorkersBoxBound: { perSecond: Math.round(bound2), ratio: Number((bound2 / rate1).toFixed(2)) },
  };
}
console.log(
  JSON.stringify(
    {
      loadGenerator: LOADGEN,
      runtime: RUNTIME,
      seconds: SECONDS,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      subscribers: SUBSCRIBERS,
      window: WINDOW,
      inFlight: IN_FLIGHT,
      publishers: PUBLISHERS,
      ...summary,
    },
    null,
    2,
  ),
);
