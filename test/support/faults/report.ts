import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HistoryEvent } from './history.js';
import type { ScheduleRun } from './runner.js';
import { describeSchedule } from './schedule.js';

/** One event as a line: index, time, and its fields (a history read is summarised). */
export function formatEvent(e: HistoryEvent): string {
  const { i, at, ...rest } = e;
  let body: Record<string, unknown> = rest;
  if (e.type === 'history') {
    body = {
      type: e.type,
      channel: e.channel,
      epoch: e.epoch,
      offset: e.offset,
      kept: e.publications.length,
    };
  } else if (e.type === 'run-record') {
    body = { ...rest, updates: e.updates.map((u) => `${u.seq}:${u.status}`).join(' ') };
  }
  return `#${i} +${(at / 1000).toFixed(3)}s ${JSON.stringify(body)}`;
}

/**
 * The events of a violation with their context: the faults injected or healed between the
 * first and the last of them (and the last one before), so the excerpt shows what happened
 * in between without the thousands of events around it.
 */
export function excerpt(events: readonly HistoryEvent[], indices: readonly number[]): string[] {
  if (indices.length === 0) return [];
  const first = Math.min(...indices);
  const last = Math.max(...indices);
  const shown = new Set(indices);
  const before = events.slice(0, first).findLast((e) => e.type === 'fault');
  if (before) shown.add(before.i);
  for (const e of events.slice(first, last + 1)) if (e.type === 'fault') shown.add(e.i);
  return [...shown]
    .sort((a, b) => a - b)
    .flatMap((i) => {
      const e = events[i];
      return e ? [`    ${formatEvent(e)}`] : [];
    });
}

/** How to run a long (soak) schedule again. */
export function soakReplay(run: ScheduleRun): string {
  const { seed, setup, size } = run.schedule;
  return `npm run soak -- --setup ${setup} --seed ${seed} --schedules 1${size === 'short' ? ' --size short' : ''}`;
}

/** Writes the whole history (one event per line) to a temp file; returns its path. */
export function saveHistory(run: ScheduleRun): string {
  const file = join(tmpdir(), `wirehub-faults-${run.schedule.setup}-${run.schedule.seed}.jsonl`);
  writeFileSync(file, `${run.history.events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  return file;
}

/**
 * The failure report: seed, how to replay, the schedule, and each violation with its excerpt.
 * The whole history goes to a file (named in the report).
 */
export function formatReport(run: ScheduleRun, replay: string, logs = true): string {
  const { result } = run;
  const lines = [
    `fault schedule FAILED: seed ${run.schedule.seed} on ${run.schedule.setup}: ${result.violations.length} violation(s)${run.error ? ', and it did not finish' : ''}`,
    `replay: ${replay}`,
    ...(run.error ? [`error: ${run.error}`] : []),
    `full history: ${saveHistory(run)}`,
    describeSchedule(run.schedule),
    '',
  ];
  for (const v of result.violations) {
    lines.push(`[${v.invariant}] ${v.message}`, ...excerpt(run.history.events, v.events));
  }
  const dropped = Object.entries(result.dropped);
  if (dropped.length > 0)
    lines.push(`(not shown: ${dropped.map(([invariant, n]) => `${n} more ${invariant}`).join(', ')})`);
  if (logs && run.logs.trim()) lines.push('', 'process output (last lines):', run.logs);
  return lines.join('\n');
}

/** One line of numbers for a schedule that ran (pass or fail). */
export function summaryLine(run: ScheduleRun): string {
  const c = run.result.counts;
  const verdict = failedRun(run)
    ? `${run.result.violations.length} violation(s)${run.error ? ', did not finish' : ''}`
    : 'ok';
  return `seed ${run.schedule.seed} ${run.schedule.setup}: ${run.faults} faults, ${c.acked} acked publications checked, ${c.messages} deliveries, ${c.runs} runs, ${(run.durationMs / 1000).toFixed(1)} s: ${verdict}`;
}

/** A run fails with a violation, or when it could not finish (an error). */
export function failedRun(run: ScheduleRun): boolean {
  return run.result.violations.length > 0 || run.error !== undefined;
}
