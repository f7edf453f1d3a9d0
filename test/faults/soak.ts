/**
 * `npm run soak`: the fault-injection suite for minutes instead of seconds. Runs long random
 * schedules (6-12 fault episodes each) on every set-up in turn until the duration is up or the
 * number of schedules is reached, checks each one, and prints schedules × faults ×
 * publications checked. A failing schedule prints its seed and report; replay it with
 * `npm run soak -- --setup <set-up> --seed <seed> --schedules 1`.
 *
 *   npm run soak                                   # 5 minutes, every set-up, random seeds
 *   npm run soak -- --duration 30m --setup embedded
 *   npm run soak -- --setup redis-2-nodes-none --seed 1234 --schedules 1   # replay
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/cli/parse.js';
import { randomSeed } from '../support/faults/prng.js';
import { failedRun, formatReport, soakReplay, summaryLine } from '../support/faults/report.js';
import { runSchedule, type ScheduleRun } from '../support/faults/runner.js';
import { generateSchedule, type ScheduleSize } from '../support/faults/schedule.js';
import { makeSetUp, SETUPS } from '../support/faults/setups.js';

const USAGE = `usage: npm run soak -- [options]
  --duration <d>     run schedules for this long (default 5m; e.g. 90s, 30m)
  --schedules <n>    or stop after n schedules (whichever comes first)
  --setup <name>     only this set-up (repeatable); default every one: ${Object.keys(SETUPS).join(', ')}
  --seed <n>         seed of the first schedule (default random); the next ones use seed+1, …
  --size <s>         long (default: 6-12 random episodes) or short (every fault of the set-up once)
  --stop-on-failure  stop at the first schedule with a violation
  --verbose          print each step as it runs`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string', default: '5m' },
        schedules: { type: 'string' },
        setup: { type: 'string', multiple: true },
        seed: { type: 'string' },
        size: { type: 'string', default: 'long' },
        'stop-on-failure': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const durationMs = (() => {
  try {
    return parseDuration(values.duration);
  } catch (err) {
    return fail(`--duration: ${(err as Error).message}`);
  }
})();
const maxSchedules = values.schedules === undefined ? Number.POSITIVE_INFINITY : Number(values.schedules);
if (!(maxSchedules >= 1)) fail('--schedules must be at least 1');
const setups = values.setup ?? Object.keys(SETUPS);
for (const name of setups) if (!SETUPS[name]) fail(`no set-up ${name}`);
const size = values.size as ScheduleSize;
if (size !== 'long' && size !== 'short') fail('--size is long or short');
let seed = values.seed === undefined ? randomSeed() : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) fail('--seed is a whole number 0..4294967295');

const started = Date.now();
const runs: ScheduleRun[] = [];
const failed: ScheduleRun[] = [];
for (let n = 0; n < maxSchedules && Date.now() - started < durationMs; n += 1) {
  const name = setups[n % setups.length] as string;
  const setup = makeSetUp(name);
  const schedule = generateSchedule(seed, setup, size);
  if (values.verbose) console.log(`schedule ${n + 1}: seed ${seed} on ${name}`);
  const run = await runSchedule(schedule, setup, values.verbose ? (line) => console.log(line) : undefined);
  runs.push(run);
  console.log(summaryLine(run));
  if (failedRun(run)) {
    failed.push(run);
    console.log(formatReport(run, soakReplay(run)));
    if (values['stop-on-failure']) break;
  }
  seed = (seed + 1) >>> 0;
}

const total = (f: (r: ScheduleRun) => number) => runs.reduce((sum, r) => sum + f(r), 0);
console.log(
  `\nsoak: ${runs.length} schedules × ${total((r) => r.faults)} faults × ${total((r) => r.result.counts.acked)} acked publications checked` +
    ` (${total((r) => r.result.counts.messages)} deliveries, ${total((r) => r.result.counts.runs)} runs)` +
    ` in ${((Date.now() - started) / 1000).toFixed(0)} s: ${failed.length === 0 ? 'no violation' : `${failed.length} schedule(s) failed: seeds ${failed.map((r) => `${r.schedule.seed} (${r.schedule.setup})`).join(', ')}`}`,
);
process.exit(failed.length === 0 ? 0 : 1);
