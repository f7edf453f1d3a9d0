/**
 * Connect+close CPU of wirehub against raw `ws` (and another build of wirehub), on a noisy
 * machine. `bench/compare.ts --scenarios churn` starts a fresh server per 3 s run, so a rep
 * mixes start-up and a run's worth of other load; here every server is started once, warmed,
 * and then measured in many short windows in rotating order (A B C, B C A, C A B, …). What
 * to read is the median of the per-round ratios: each ratio compares windows seconds apart.
 *
 *   npx tsx bench/churn-ab.ts --rounds 15 --window 1500
 *   npx tsx bench/churn-ab.ts --baseline-dist /tmp/base/dist   # + that build as wirehub-base
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runChurn } from '../src/cli/bench/churn.js';
import { NO_LIMITS } from './support/no-limits.js';
import { freePort, ServerProcess, type ServerSpec } from './support/servers.js';

const root = new URL('..', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    window: { type: 'string', default: '1500' },
    concurrency: { type: 'string', default: '10' },
    'baseline-dist': { type: 'string' },
  },
});
const rounds = Number(args.rounds);
const windowMs = Number(args.window);
const dataDir = mkdtempSync(join(tmpdir(), 'wirehub-churn-ab-'));

/** `wirehub serve` as bench/compare.ts runs it: limits meant for many addresses off. */
const wirehub = (dist: string, name: string): ServerSpec => ({
  args: [
    join(dist, 'cli/main.js'),
    'serve',
    '--log-level',
    'warn',
    '--data-dir',
    join(dataDir, name),
    '--drain-window',
    '0',
    ...NO_LIMITS,
  ],
});
const specs: [string, ServerSpec][] = [
  ['wirehub', wirehub(join(root, 'dist'), 'wirehub')],
  ['raw-ws', { args: [join(root, 'bench/baselines/raw-ws.mjs')] }],
];
if (args['baseline-dist']) specs.push(['wirehub-base', wirehub(args['baseline-dist'], 'base')]);

const servers: { name: string; server: ServerProcess }[] = [];
try {
  for (const [name, spec] of specs) {
    servers.push({ name, server: await ServerProcess.start(spec, await freePort()) });
  }
  const churn = (s: ServerProcess, durationMs: number) =>
    runChurn({
      url: `ws://127.0.0.1:${s.port}/echo`,
      durationMs,
      serverPid: s.pid,
      concurrency: Number(args.concurrency),
      maxCycles: 10_000_000,
    });
  for (const { server } of servers) await churn(server, 1_000); // warm-up: JIT, pools
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const cpu = new Map<string, number[]>(servers.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = servers.map((_, i) => servers[(i + r) % servers.length] as (typeof servers)[number]);
    const line: string[] = [];
    for (const { name, server } of order) {
      const report = await churn(server, windowMs);
      const us = report.server?.cpuUsPerMessage ?? Number.NaN;
      const kernel = Math.round((report.server?.systemShare ?? Number.NaN) * 100);
      cpu.get(name)?.push(us);
      line.push(
        `${name} ${us.toFixed(0)} µs, ${kernel}% kernel (${report.results.cyclesPerSec.toFixed(0)}/s)`,
      );
    }
    console.log(`round ${r + 1}: ${line.join(', ')}`);
  }
  const raw = cpu.get('raw-ws') ?? [];
  console.log(
    `load average at end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log('server CPU per connect+close: median µs, and median of the per-round ratios to raw ws');
  for (const [name, values] of cpu) {
    const ratios = values.map((v, i) => v / (raw[i] ?? Number.NaN));
    const detail = name === 'raw-ws' ? '' : `  ratio ${median(ratios).toFixed(3)}x`;
    console.log(`  ${name.padEnd(13)} ${median(values).toFixed(0).padStart(5)} µs${detail}`);
  }
} finally {
  for (const { server } of servers) await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}
