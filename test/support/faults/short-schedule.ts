import { relative } from 'node:path';
import { expect } from 'vitest';
import { failedRun, formatReport } from './report.js';
import { runSchedule, type ScheduleRun } from './runner.js';
import { generateSchedule, type ShortCover } from './schedule.js';
import { makeSetUp } from './setups.js';

/** `WIREHUB_FAULT_SEED` when set (to replay a printed seed), else the file's own seed. */
export function faultSeed(fallback: number): number {
  const raw = process.env.WIREHUB_FAULT_SEED;
  if (raw === undefined || raw === '') return fallback;
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new Error(`WIREHUB_FAULT_SEED must be a whole number 0..4294967295, not ${raw}`);
  return seed;
}

/**
 * Runs the short schedule of `seed` on a fresh set-up and fails the test with the report
 * (seed, how to replay, schedule, each violation with its excerpt) on any violation.
 */
export async function passesShortSchedule(
  setupName: string,
  seed: number,
  cover: ShortCover,
): Promise<ScheduleRun> {
  const setup = makeSetUp(setupName);
  const schedule = generateSchedule(seed, setup, 'short', cover);
  // WIREHUB_FAULT_VERBOSE=1 prints each step as it runs (with its time).
  const progress = process.env.WIREHUB_FAULT_VERBOSE ? (line: string) => console.log(line) : undefined;
  const run = await runSchedule(schedule, setup, progress);
  const file = relative(process.cwd(), expect.getState().testPath ?? 'test/faults/');
  if (failedRun(run)) expect.fail(formatReport(run, `WIREHUB_FAULT_SEED=${seed} npx vitest run ${file}`));
  // A schedule that checked next to nothing proves nothing: the traffic and faults happened.
  expect(run.result.counts.acked).toBeGreaterThan(200);
  expect(run.faults).toBe(schedule.steps.filter((s) => s.kind !== 'traffic' && s.kind !== 'runs').length);
  return run;
}
