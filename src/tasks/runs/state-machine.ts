import type { RunStatus } from './types.js';

/** True when `status` ends a run: the protocol's one list of terminal phases. */
export { isTerminalRunStatus as isTerminal } from '../../protocol/run-status.js';

/**
 * Allowed moves between phases. A status may repeat (reports while RUNNING, a re-queue
 * message while QUEUED); a retry goes back to QUEUED; nothing leaves a terminal status.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, ReadonlySet<RunStatus>>> = {
  QUEUED: new Set(['QUEUED', 'INITIALIZING', 'FAILED', 'ABORTED']),
  INITIALIZING: new Set(['INITIALIZING', 'RUNNING', 'QUEUED', 'FAILED', 'ABORTED', 'TIMED_OUT']),
  RUNNING: new Set(['RUNNING', 'QUEUED', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']),
  SUCCEEDED: new Set(),
  FAILED: new Set(),
  ABORTED: new Set(),
  TIMED_OUT: new Set(),
};

/** True when a run in `from` may move to `to`. */
export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].has(to);
}
