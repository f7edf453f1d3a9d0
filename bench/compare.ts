/**
 * `npm run bench`: wirehub side by side with the baselines (bench/baselines/), each server a
 * child process so its CPU time comes from /proc/<pid>/stat and the load generator (this
 * process) sharing the cores cannot distort it. Scenarios run against every target in
 * alternating order (A B C, C B A, …), each run on a fresh server, and the report takes the
 * median over repetitions and the ratio to raw ws measured in the same run.
 *
 * Writes bench/results/<date>.json and the results section of docs/benchmarks.md.
 *
 *   npm run bench                       # everything, ~10 minutes
 *   npm run bench -- --quick            # short runs, 1 repetition: checks the harness
 *   npm run bench -- --targets wirehub,raw-ws --scenarios echo,fanout-flat --reps 5
 *   npm run bench -- --profile fanout-flat [--profile-target raw-ws]   # CPU profile of the window
 *   npx tsx bench/compare.ts --baseline-dist /tmp/base/dist --targets wirehub,wirehub-base,raw-ws
 *                                       # another build of wirehub as one more target (A/B a change)
 *   npx tsx bench/compare.ts --scenarios idle --idle-settle 20000   # idle RSS once V8 has shrunk
 *                                       # its young generation again (20 s quiet before each sample)
 *   npx tsx bench/compare.ts --render bench/results/<date>.json   # docs table from a recorded run
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runChurn } from '../src/cli/bench/churn.js';
import type { CommonOptions } from '../src/cli/bench/common.js';
import { runConnections } from '../src/cli/bench/connections.js';
import { type Driver, wsDriver } from '../src/cli/bench/driver.js';
import { runEcho } from '../src/cli/bench/echo.js';
import { runFanout } from '../src/cli/bench/fanout.js';
import type { BenchReport } from '../src/cli/bench/report.js';
import { socketIoDriver } from './drivers/socketio.js';
import { asBenchReport, type NativeLoadOptions, runNativeLoad } from './support/native-load.js';
import { NO_LIMITS } from './support/no-limits.js';
import { summarizeProfile } from './support/profile-summary.js';
import { freePort, ServerProcess, type ServerSpec } from './support/servers.js';
import { prepareUws, type UwsBaseline } from './support/uws.js';

const root = new URL('..', import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    targets: { type: 'string' },
    scenarios: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    'no-uws': { type: 'boolean', default: false },
    profile: { type: 'string' },
    render: { type: 'string' },
    'profile-target': { type: 'string', default: 'wirehub' },
    subscribers: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '5' },
    idle: { type: 'string', default: '5000' },
    'idle-settle': { type: 'string', default: '0' },
    'baseline-dist': { type: 'string' },
    loadgen: { type: 'string', default: 'js' },
  },
});

const quick = args.quick;
const reps = quick ? 1 : Math.max(1, Number(args.reps));
const subscribers = quick ? 200 : Number(args.subscribers);
const idleCount = quick ? 500 : Number(args.idle);
const idleSettleMs = Number(args['idle-settle']);
const windowMs = quick ? 1_000 : 4_000;
const warmupMs = quick ? 300 : 1_000;
/**
 * The fixed publication rate of `fanout-rate` (`--rate`): by default 5/s to 2000 subscribers =
 * 10k deliveries/s, well below saturation; issue #16 names 100/s to 5,000 and 20/s to 1,000.
 */
const ratePerSec = Math.max(1, Number(args.rate));
/**
 * `--loadgen native` drives echo and fan-out with wsload (bench/support/wsload.c) instead of the
 * `ws` client in this process: the JavaScript client cannot take 500k deliveries/s (issue #16's
 * 5,000 x 100/s saturates it) and on two cores it takes CPU the server would use. Targets whose
 * protocol it does not speak (Socket.IO) keep the JavaScript driver.
 */
const loadgen = args.loadgen === 'native' ? 'native' : 'js';
if (args.loadgen !== loadgen) throw new Error(`--loadgen must be js or native, not ${args.loadgen}`);

interface Target {
  name: string;
  label: string;
  driver: Driver;
  /** False when the server writes with send(2), which /proc/<pid>/io's syscw does not count. */
  countsWrites?: boolean;
  spec: ServerSpec;
  url(port: number, path: string): string;
}

const ws = (port: number, path: string) => `ws://127.0.0.1:${port}${path}`;
const dataDir = mkdtempSync(join(tmpdir(), 'wirehub-bench-'));

/** `wirehub serve` of the build in `dist` as every wirehub target runs it. */
const wirehubArgs = (dist: string): string[] => [
  join(dist, 'cli/main.js'),
  'serve',
  '--log-level',
  'warn',
  '--data-dir',
  dataDir,
  '--drain-window',
  '0',
  ...NO_LIMITS,
];

function targets(uws: UwsBaseline | { skipped: string }): Target[] {
  const wirehub = (name: string, dist: string): Target => ({
    name,
    label: name,
    driver: wsDriver,
    spec: { args: wirehubArgs(dist), env: {} },
    url: ws,
  });
  const all: Target[] = [
    wirehub('wirehub', join(root, 'dist')),
    {
      name: 'wirehub-bun',
      label: 'wirehub on Bun (native transport)',
      driver: wsDriver,
      countsWrites: false,
      spec: { args: wirehubArgs(join(root, 'dist')), env: {}, bun: true },
      url: ws,
    },
    {
      name: 'bun-bare',
      label: 'bare Bun.serve (topic publish)',
      driver: wsDriver,
      countsWrites: false,
      spec: { args: [join(root, 'bench/baselines/bun-bare.mjs')], bun: true },
      url: ws,
    },
    {
      name: 'raw-ws',
      label: 'raw ws (naive loop)',
      driver: wsDriver,
      spec: { args: [join(root, 'bench/baselines/raw-ws.mjs')] },
      url: ws,
    },
    {
      name: 'fastify-ws',
      label: 'Fastify + @fastify/websocket',
      driver: wsDriver,
      spec: { args: [join(root, 'bench/baselines/fastify-ws.mjs')] },
      url: ws,
    },
    {
      name: 'socketio',
      label: 'Socket.IO (websocket only)',
      driver: socketIoDriver,
      spec: { args: [join(root, 'bench/baselines/socketio.mjs')] },
      url: (port, path) => `http://127.0.0.1:${port}${path}`,
    },
  ];
  if (args['baseline-dist']) all.push(wirehub('wirehub-base', args['baseline-dist']));
  if ('binding' in uws) {
    all.push({
      name: 'uws',
      label: 'uWebSockets.js',
      driver: wsDriver,
      countsWrites: false,
      spec: { args: [join(root, 'bench/baselines/uws.mjs')], env: { ...uws.env, UWS_BINDING: uws.binding } },
      url: ws,
    });
  }
  return all;
}

/** A named figure one scenario yields, and which direction is better. */
interface Figure {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Explains another figure (e.g. syscall counts); not one of the issue's figures to compare. */
  diagnostic?: boolean;
}

interface Scenario {
  name: string;
  title: string;
  figures: Figure[];
  run(
    target: Target,
    server: ServerProcess,
    extra: Pick<CommonOptions, 'window'>,
  ): Promise<{ report: BenchReport<object>; values: Record<string, number> }>;
}

const need = (value: number | undefined) => value ?? Number.NaN;

/** With `--loadgen native`, the run goes to wsload for every target that speaks plain ws. */
async function native(
  t: Target,
  o: NativeLoadOptions,
): Promise<BenchReport<Record<string, number>> | undefined> {
  if (loadgen !== 'native' || t.driver !== wsDriver) return undefined;
  return asBenchReport(o, await runNativeLoad(o)) as BenchReport<Record<string, number>>;
}

/** The fan-out run both fan-out scenarios make: 64-byte broadcasts to `subscribers`. */
async function fanout(t: Target, s: ServerProcess, extra: Pick<CommonOptions, 'window'>, rate: number) {
  const viaNative = await native(t, {
    mode: 'fanout',
    url: t.url(s.port, '/broadcast'),
    connections: subscribers,
    rate,
    inFlight: 8,
    payloadBytes: 64,
    warmupMs,
    durationMs: windowMs,
    serverPid: s.pid,
  });
  if (viaNative) return viaNative;
  return runFanout({
    ...extra,
    url: t.url(s.port, '/broadcast'),
    driver: t.driver,
    durationMs: windowMs,
    warmupMs,
    serverPid: s.pid,
    subscribers,
    rate,
    inFlight: 8,
    payloadBytes: 64,
    maxPublications: 10_000_000,
  });
}

const scenarios: Scenario[] = [
  {
    name: 'echo',
    title: `echo: 50 connections x 10 in flight, 64 B`,
    figures: [
      { key: 'echoPerSec', label: 'echo throughput', unit: 'msg/s', better: 'higher' },
      { key: 'echoCpuUs', label: 'echo server CPU per message', unit: 'µs', better: 'lower' },
      {
        key: 'echoWrites',
        label: 'echo server write syscalls per message',
        unit: 'n',
        better: 'lower',
        diagnostic: true,
      },
    ],
    async run(t, s, extra) {
      const viaNative = await native(t, {
        mode: 'echo',
        url: t.url(s.port, '/echo'),
        connections: 50,
        window: 10,
        payloadBytes: 64,
        warmupMs,
        durationMs: windowMs,
        serverPid: s.pid,
      });
      const report =
        viaNative ??
        (await runEcho({
          ...extra,
          url: t.url(s.port, '/echo'),
          driver: t.driver,
          durationMs: windowMs,
          warmupMs,
          serverPid: s.pid,
          connections: 50,
          inFlight: 10,
          payloadBytes: 64,
          maxMessages: 50_000_000,
        }));
      return {
        report,
        values: {
          echoPerSec: need(report.results.messagesPerSec),
          echoCpuUs: need(report.server?.cpuUsPerMessage),
          echoWrites: need(report.server?.writesPerMessage),
        },
      };
    },
  },
  {
    name: 'fanout-flat',
    title: `fan-out flat out: ${subscribers} subscribers, 8 publications in flight, 64 B`,
    figures: [
      { key: 'flatPerSec', label: 'fan-out deliveries (flat out)', unit: 'msg/s', better: 'higher' },
      { key: 'flatCpuUs', label: 'fan-out server CPU per delivery (flat out)', unit: 'µs', better: 'lower' },
      {
        key: 'flatWrites',
        label: 'fan-out write syscalls per delivery (flat out)',
        unit: 'n',
        better: 'lower',
        diagnostic: true,
      },
    ],
    async run(t, s, extra) {
      const report = await fanout(t, s, extra, 0);
      return {
        report,
        values: {
          flatPerSec: need(report.results.deliveriesPerSec),
          flatCpuUs: need(report.server?.cpuUsPerMessage),
          flatWrites: need(report.server?.writesPerMessage),
        },
      };
    },
  },
  {
    name: 'fanout-rate',
    title: `fan-out at a fixed rate: ${subscribers} subscribers, ${ratePerSec} publications/s (${(subscribers * ratePerSec) / 1000}k deliveries/s)`,
    figures: [
      { key: 'rateP50', label: 'fan-out latency p50 (fixed rate)', unit: 'ms', better: 'lower' },
      { key: 'rateP99', label: 'fan-out latency p99 (fixed rate)', unit: 'ms', better: 'lower' },
      {
        key: 'rateCpuUs',
        label: 'fan-out server CPU per delivery (fixed rate)',
        unit: 'µs',
        better: 'lower',
      },
      {
        key: 'rateWrites',
        label: 'fan-out write syscalls per delivery (fixed rate)',
        unit: 'n',
        better: 'lower',
        diagnostic: true,
      },
    ],
    async run(t, s, extra) {
      const report = await fanout(t, s, extra, ratePerSec);
      return {
        report,
        values: {
          rateP50: report.latencyMs.p50,
          rateP99: report.latencyMs.p99,
          rateCpuUs: need(report.server?.cpuUsPerMessage),
          rateWrites: need(report.server?.writesPerMessage),
        },
      };
    },
  },
  {
    name: 'idle',
    title: `idle connections: ${idleCount} open on /echo, RSS after a forced GC`,
    figures: [
      { key: 'idleKb', label: 'server RSS per idle connection', unit: 'KB', better: 'lower' },
      { key: 'idleHeapKb', label: 'server JS heap per idle connection', unit: 'KB', better: 'lower' },
    ],
    async run(t, s, extra) {
      // Heap in use after each forced GC: before the connections open, and while they are held.
      const heaps: number[] = [];
      const report = await runConnections({
        ...extra,
        url: t.url(s.port, '/echo'),
        driver: t.driver,
        durationMs: 1_000,
        serverPid: s.pid,
        count: idleCount,
        concurrency: 200,
        settle: async () => {
          // --idle-settle: a quiet wait before each sample, after which V8 has shrunk what
          // the burst of handshakes grew (its young generation): the steady state.
          if (idleSettleMs > 0) await new Promise((r) => setTimeout(r, idleSettleMs));
          const memory = await s.gc();
          if (memory) heaps.push(memory.heapUsed);
        },
      });
      const opened = report.results.opened;
      const heapGrowth = (heaps.at(-1) ?? Number.NaN) - (heaps[0] ?? Number.NaN);
      return {
        report,
        values: {
          idleKb: report.results.rssPerConnectionBytes / 1024,
          idleHeapKb: heaps.length === 2 && opened > 0 ? heapGrowth / opened / 1024 : Number.NaN,
        },
      };
    },
  },
  {
    name: 'churn',
    title: 'churn: 10 workers connect and close',
    figures: [
      { key: 'churnPerSec', label: 'connect+close cycles', unit: '/s', better: 'higher' },
      { key: 'churnCpuUs', label: 'server CPU per connect+close', unit: 'µs', better: 'lower' },
    ],
    async run(t, s, extra) {
      const report = await runChurn({
        ...extra,
        url: t.url(s.port, '/echo'),
        driver: t.driver,
        durationMs: quick ? 1_000 : 3_000,
        serverPid: s.pid,
        concurrency: 10,
        maxCycles: 1_000_000,
      });
      return {
        report,
        values: {
          churnPerSec: report.results.cyclesPerSec,
          churnCpuUs: need(report.server?.cpuUsPerMessage),
        },
      };
    },
  },
];

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** What went wrong in a run that makes its figures suspect (loss, failures, errors). */
function problems(report: BenchReport<object>): string[] {
  const r = report.results as Record<string, number>;
  const out: string[] = [];
  for (const key of [
    'lost',
    'mismatched',
    'connectFailures',
    'failures',
    'disconnects',
    'closedEarly',
    'saturated',
  ]) {
    if ((r[key] ?? 0) > 0) out.push(`${key}=${r[key]}`);
  }
  return out;
}

function machine() {
  const cpu = cpus();
  return {
    cpu: `${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown'}`,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

function fmt(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'msg/s' || unit === '/s') return Math.round(value).toLocaleString('en-US');
  if (unit === 'n') return value.toFixed(3);
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

interface Check {
  target: string;
  met: boolean;
  detail: string;
}

/** The targets of issue #7, evaluated on the medians of this run. */
function checks(med: Record<string, Record<string, number>>, figures: Figure[]): Check[] {
  const w = (k: string) => med[k]?.wirehub ?? Number.NaN;
  const raw = (k: string) => med[k]?.['raw-ws'] ?? Number.NaN;
  const sio = (k: string) => med[k]?.socketio ?? Number.NaN;
  const out: Check[] = [];
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  for (const k of ['flatCpuUs', 'rateCpuUs']) {
    if (!med[k]) continue;
    out.push({
      target: `fan-out server CPU per delivery <= 0.5x raw ws (${k === 'flatCpuUs' ? 'flat out' : 'fixed rate'})`,
      met: w(k) <= 0.5 * raw(k),
      detail: `${fmt(w(k), 'µs')} µs vs ${fmt(raw(k), 'µs')} µs = ${ratio(w(k), raw(k))}x`,
    });
  }
  if (med.echoPerSec) {
    out.push({
      target: 'echo throughput >= 1.0x raw ws',
      met: w('echoPerSec') >= raw('echoPerSec'),
      detail: `${ratio(w('echoPerSec'), raw('echoPerSec'))}x`,
    });
  }
  if (med.idleKb) {
    out.push({
      target: 'idle RSS per connection <= raw ws + 2 KB',
      met: w('idleKb') <= raw('idleKb') + 2,
      detail: `${fmt(w('idleKb'), 'KB')} KB vs ${fmt(raw('idleKb'), 'KB')} KB`,
    });
  }
  for (const f of figures) {
    if (f.diagnostic || !med[f.key] || !Number.isFinite(sio(f.key))) continue;
    const better = f.better === 'higher' ? w(f.key) / sio(f.key) : sio(f.key) / w(f.key);
    out.push({
      target: `${f.label}: >= 1.5x better than Socket.IO`,
      met: better >= 1.5,
      detail: `${better.toFixed(2)}x better`,
    });
  }
  return out;
}

async function runOnce(target: Target, scenario: Scenario, profileTo?: string) {
  const port = await freePort();
  const server = await ServerProcess.start(target.spec, port);
  try {
    const extra = profileTo
      ? { window: { start: () => server.profileStart(), end: () => server.profileStop(profileTo) } }
      : {};
    const result = await scenario.run(target, server, extra);
    if (target.countsWrites === false) {
      for (const key of Object.keys(result.values))
        if (key.endsWith('Writes')) result.values[key] = Number.NaN;
    }
    return result;
  } finally {
    await server.stop();
  }
}

/** Runs one scenario against one target with the CPU profiler on over the measured window. */
async function profile(name: string, targetName: string, all: Target[]): Promise<void> {
  const scenario = scenarios.find((s) => s.name === name);
  const target = all.find((t) => t.name === targetName);
  if (!scenario || !target) throw new Error(`unknown scenario ${name} or target ${targetName}`);
  const dir = join(root, 'bench/results/profiles');
  mkdirSync(dir, { recursive: true });
  const file = join(
    dir,
    `${target.name}-${scenario.name}-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.cpuprofile`,
  );
  const { values } = await runOnce(target, scenario, file);
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), 30);
  console.log(
    `${target.label}: ${scenario.title}\n${JSON.stringify(values)}\nprofile: ${file.slice(root.length)}\n${summary}`,
  );
}

type Column = Pick<Target, 'name' | 'label' | 'countsWrites'>;

function markdown(
  date: string,
  runReps: number,
  m: ReturnType<typeof machine> & { loadAverageAtEnd: number[] },
  all: Column[],
  figures: Figure[],
  med: Record<string, Record<string, number>>,
  found: Check[],
  notes: string[],
): string {
  const names = all.map((t) => t.name);
  const head = `| figure | ${all.map((t) => t.label).join(' | ')} |`;
  const sep = `|---|${all.map(() => '---:').join('|')}|`;
  const rows = figures
    .filter((f) => med[f.key])
    .map((f) => {
      const raw = med[f.key]?.['raw-ws'] ?? Number.NaN;
      const cells = names.map((n) => {
        const v = med[f.key]?.[n] ?? Number.NaN;
        const r =
          Number.isFinite(v) && Number.isFinite(raw) && raw !== 0 && n !== 'raw-ws'
            ? ` (${(v / raw).toFixed(2)}x)`
            : '';
        return `${fmt(v, f.unit)}${r}`;
      });
      return `| ${f.label} (${f.unit}, ${f.better} is better) | ${cells.join(' | ')} |`;
    });
  const lines = [
    `Run of ${date}: \`npm run bench\` with ${runReps} repetition(s), medians; in parentheses the ratio to raw ws measured in the same run. Load generator: ${loadgen === 'native' ? 'wsload (C, bench/support/wsload.c)' : 'the ws client in the bench process'}.`,
    `Machine: ${m.cpu}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}; load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end.`,
    '',
    head,
    sep,
    ...rows,
    '',
    'Targets of issue #7 (wirehub, this run):',
    '',
    ...found.map((c) => `- ${c.met ? 'met' : '**missed**'}: ${c.target} — ${c.detail}`),
  ];
  const shown = [...new Set(notes)];
  if (all.some((t) => t.countsWrites === false)) {
    shown.push(
      `write syscalls are n/a for ${all
        .filter((t) => t.countsWrites === false)
        .map((t) => t.label)
        .join(', ')}: it writes with send(2), which /proc/<pid>/io does not count`,
    );
  }
  const unique = [...new Set(shown)];
  if (unique.length > 0) lines.push('', 'Notes from this run:', '', ...unique.map((n) => `- ${n}`));
  return lines.join('\n');
}

/** Puts the results section into docs/benchmarks.md, between its markers. */
function writeDocs(table: string): void {
  const docs = join(root, 'docs/benchmarks.md');
  const doc = readFileSync(docs, 'utf8');
  const startMark = '<!-- results:start -->';
  const endMark = '<!-- results:end -->';
  const a = doc.indexOf(startMark);
  const b = doc.indexOf(endMark);
  if (a < 0 || b < a) throw new Error('docs/benchmarks.md lacks the results markers');
  writeFileSync(docs, `${doc.slice(0, a + startMark.length)}\n${table}\n${doc.slice(b)}`);
  // The project's formatter aligns markdown tables; keep `npm run check` clean.
  execFileSync(join(root, 'node_modules/.bin/biome'), ['format', '--write', docs], { stdio: 'ignore' });
}

/** `--render <results.json>`: rewrites the docs section from a recorded run, measuring nothing. */
function render(file: string): void {
  const run = JSON.parse(readFileSync(file, 'utf8')) as {
    date: string;
    machine: ReturnType<typeof machine> & { loadAverageAtEnd: number[] };
    params: { reps: number };
    targets: (Column & { countsWrites?: boolean })[];
    medians: Record<string, Record<string, number>>;
    notes: string[];
  };
  const columns = run.targets.map((t) => ({
    name: t.name,
    label: t.label,
    // Files written before countsWrites was recorded: only uWS writes with send(2).
    countsWrites: t.countsWrites ?? t.name !== 'uws',
  }));
  const figures = scenarios.flatMap((s) => s.figures).filter((f) => run.medians[f.key]);
  const table = markdown(
    run.date.slice(0, 16).replace('T', ' '),
    run.params.reps,
    run.machine,
    columns,
    figures,
    run.medians,
    checks(run.medians, figures),
    run.notes.filter((n) => !n.startsWith('write syscalls are n/a')),
  );
  console.log(table);
  writeDocs(table);
}

async function main(): Promise<void> {
  if (args.render) {
    render(args.render);
    return;
  }
  const uws = args['no-uws'] ? { skipped: 'disabled with --no-uws' } : prepareUws(root);
  if ('skipped' in uws) console.error(`uWebSockets.js: ${uws.skipped}`);
  else
    console.error(
      `uWebSockets.js: ${uws.provenance.package}@${uws.provenance.version} (${uws.provenance.adaptation})`,
    );
  let all = targets(uws);
  if (args.profile) {
    await profile(args.profile, args['profile-target'], all);
    return;
  }
  if (args.targets) {
    const wanted = args.targets.split(',');
    all = all.filter((t) => wanted.includes(t.name));
  }
  const chosen = args.scenarios
    ? scenarios.filter((s) => args.scenarios?.split(',').includes(s.name))
    : scenarios;
  const m = machine();
  const started = Date.now();
  console.error(`machine: ${JSON.stringify(m)}`);
  const runs: {
    rep: number;
    scenario: string;
    target: string;
    values: Record<string, number>;
    report: unknown;
  }[] = [];
  const notes: string[] = [];
  for (let rep = 0; rep < reps; rep += 1) {
    // A B C, then C B A: drift over the run (thermal, other load) hits every target alike.
    const order = rep % 2 === 0 ? all : [...all].reverse();
    for (const scenario of chosen) {
      for (const target of order) {
        const t0 = Date.now();
        try {
          const { report, values } = await runOnce(target, scenario);
          runs.push({ rep, scenario: scenario.name, target: target.name, values, report });
          const issues = problems(report);
          if (issues.length > 0)
            notes.push(`${target.name} ${scenario.name} rep ${rep + 1}: ${issues.join(', ')}`);
          console.error(
            `rep ${rep + 1}/${reps} ${scenario.name.padEnd(11)} ${target.name.padEnd(10)} ${JSON.stringify(values)}${issues.length ? ` ! ${issues.join(' ')}` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
          );
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          notes.push(`${target.name} ${scenario.name} rep ${rep + 1} failed: ${message}`);
          console.error(`rep ${rep + 1}/${reps} ${scenario.name} ${target.name} FAILED: ${message}`);
        }
      }
    }
  }
  const figures = chosen.flatMap((s) => s.figures);
  const med: Record<string, Record<string, number>> = {};
  for (const f of figures) {
    for (const t of all) {
      const values = runs
        .filter((r) => r.target === t.name && f.key in r.values)
        .map((r) => r.values[f.key] as number);
      if (values.length === 0) continue;
      med[f.key] ??= {};
      (med[f.key] as Record<string, number>)[t.name] = median(values);
    }
  }
  const found = checks(med, figures);
  const end = { ...m, loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) };
  const date = new Date().toISOString();
  const table = markdown(date.slice(0, 16).replace('T', ' '), reps, end, all, figures, med, found, notes);
  console.log(`\n${table}\n`);
  console.error(`took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (args['no-write'] || quick) return;
  const results = join(root, 'bench/results');
  mkdirSync(results, { recursive: true });
  const file = join(results, `${date.slice(0, 19).replace(/:/g, '-')}Z.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date,
        machine: end,
        params: { reps, subscribers, idleCount, windowMs, warmupMs, ratePerSec, loadgen },
        targets: all.map((t) => ({
          name: t.name,
          label: t.label,
          driver: t.driver.name,
          countsWrites: t.countsWrites !== false,
        })),
        uws: 'skipped' in uws ? uws : uws.provenance,
        medians: med,
        checks: found,
        notes,
        runs,
      },
      null,
      2,
    )}\n`,
  );
  writeDocs(table);
  console.error(`wrote ${file.slice(root.length)} and docs/benchmarks.md`);
}

try {
  await main();
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
