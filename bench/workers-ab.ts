/**
 * One `serve --workers N` build against another, in the same run: fan-out (or echo) measured
 * with wsload on a fresh server per window, the two builds alternating, so a change to the IPC
 * between primary and workers is judged by ratios of windows seconds apart rather than by
 * numbers from different hours. Prints each window and the medians: deliveries (or echoes)
 * per second, server CPU per message (primary + workers) and the primary's share of it.
 *
 *   git worktree add /tmp/base <commit> && (cd /tmp/base && npm ci && npm run build)
 *   npx tsx bench/workers-ab.ts --baseline-dist /tmp/base/dist --rounds 5
 *   npx tsx bench/workers-ab.ts --baseline-dist /tmp/base/dist --scenario echo --workers 3
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLI, startCliServer } from '../test/support/cli.js';
import { tempDir } from '../test/support/server.js';
import { nativeLoadProblems, runNativeLoad } from './support/native-load.js';
import { NO_LIMITS } from './support/no-limits.js';

const { values: args } = parseArgs({
  options: {
    'baseline-dist': { type: 'string' },
    workers: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    scenario: { type: 'string', default: 'fanout' },
    subscribers: { type: 'string', default: '500' },
    connections: { type: 'string', default: '50' },
    'in-flight': { type: 'string', default: '32' },
    window: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '5' },
  },
});
const baseline = args['baseline-dist'];
if (!baseline)
  throw new Error('--baseline-dist <dir> is required: the dist/ of the build to compare against');
const scenario = args.scenario;
if (scenario !== 'fanout' && scenario !== 'echo') throw new Error('--scenario is fanout or echo');

interface Window {
  perSecond: number;
  cpuUs: number;
  primaryUs: number;
}

async function measure(cli: string): Promise<Window> {
  const server = await startCliServer([], {}, [
    process.execPath,
    cli,
    'serve',
    '--port',
    '0',
    '--workers',
    String(args.workers),
    '--data-dir',
    tempDir(),
    '--dashboard',
    'false',
    ...NO_LIMITS,
  ]);
  try {
    const r = await runNativeLoad({
      mode: scenario as 'fanout' | 'echo',
      url: `${server.wsUrl}/${scenario === 'echo' ? 'echo' : 'broadcast'}`,
      connections: Number(scenario === 'echo' ? args.connections : args.subscribers),
      window: Number(args.window),
      inFlight: Number(args['in-flight']),
      payloadBytes: 64,
      warmupMs: 1_000,
      durationMs: Number(args.seconds) * 1_000,
      serverPid: server.child.pid as number,
    });
    const problems = nativeLoadProblems(r);
    if (problems.length > 0) throw new Error(`${cli}: ${problems.join(', ')}`);
    const us = (ms: number) => (ms / r.messages) * 1_000;
    return {
      perSecond: r.perSec,
      cpuUs: us(r.server.cpuMs + r.server.childrenCpuMs),
      primaryUs: us(r.server.cpuMs),
    };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

const builds = { current: CLI, baseline: join(baseline, 'cli/main.js') };
const windows: Record<keyof typeof builds, Window[]> = { current: [], baseline: [] };
for (let round = 0; round < Number(args.rounds); round += 1) {
  // Alternate which goes first, so neither always runs on a machine the other just warmed.
  const order = round % 2 === 0 ? (['baseline', 'current'] as const) : (['current', 'baseline'] as const);
  for (const name of order) {
    const w = await measure(builds[name]);
    windows[name].push(w);
    console.log(
      `round ${round + 1} ${name.padEnd(8)} ${Math.round(w.perSecond).toLocaleString('en-US')}/s, ` +
        `CPU ${w.cpuUs.toFixed(3)} us/msg (primary ${w.primaryUs.toFixed(3)})`,
    );
  }
}
const summary = (ws: Window[]) => ({
  perSecond: Math.round(median(ws.map((w) => w.perSecond))),
  cpuPerMessageUs: Number(median(ws.map((w) => w.cpuUs)).toFixed(3)),
  primaryCpuPerMessageUs: Number(median(ws.map((w) => w.primaryUs)).toFixed(3)),
});
const current = summary(windows.current);
const base = summary(windows.baseline);
console.log(
  JSON.stringify(
    {
      scenario,
      workers: Number(args.workers),
      rounds: Number(args.rounds),
      baseline: base,
      current,
      ratios: {
        throughput: Number((current.perSecond / base.perSecond).toFixed(2)),
        cpuPerMessage: Number((current.cpuPerMessageUs / base.cpuPerMessageUs).toFixed(2)),
        primaryCpuPerMessage: Number(
          (current.primaryCpuPerMessageUs / base.primaryCpuPerMessageUs).toFixed(2),
        ),
      },
    },
    null,
    2,
  ),
);
