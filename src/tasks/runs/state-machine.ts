import type { RunStatus, TerminalStatus } from './types.js';

const TERMINAL: ReadonlySet<RunStatus> = new Set<RunStatus>(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']);

/**
 * Allowed moves between phases. A status may repeat (reports while RUNNING, a re-queue
 * message while QUEUED); a retry goes back to QUEUED; nothing leaves a terminal status.
 */
const NEXT: Record<RunStatus, ReadonlySet<RunStatus>> = {
  QUEUED: new Set(['QUEUED', 'INITIALIZING', 'FAILED', 'ABORTED']),
  INITIALIZING: new Set(['INITIALIZING', 'RUNNING', 'QUEUED', 'FAILED', 'ABORTED', 'TIMED_OUT']),
  RUNNING: new Set(['RUNNING', 'QUEUED', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']),
  SUCCEEDED: new Set(),
  FAILED: new Set(),
  ABORTED: new Set(),
  TIMED_OUT: new Set(),
};

export function isTerminal(status: RunStatus): status is TerminalStatus {
  return TERMINAL.has(status);
}

/** True when a run in `from` may move to `to`. */
export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return NEXT[from].has(to);
}
