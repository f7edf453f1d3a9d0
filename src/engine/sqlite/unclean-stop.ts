import { readFileSync } from 'node:fs';
import type { SqliteSync } from './sqlite-file.js';

/** What the previous process recorded in the file about its session (the `meta` table). */
export interface PreviousSession {
  /** `open` while a process used the file, `closed` after a clean close; undefined: no record. */
  state: string | undefined;
  /** The boot the previous process ran in, when it knew it. */
  bootId: string | undefined;
  /** Its `synchronous` mode. */
  sync: string | undefined;
}

/** The decision about the epochs of a file's streams at open. */
export interface EpochDecision {
  /** False when commits may have been lost: every stream must start a new epoch. */
  keep: boolean;
  /** Why, for the log. */
  reason: string;
}

/**
 * Whether the streams of a channel file may keep their epochs, i.e. whether every offset the
 * previous process revealed (acked, delivered, read) is still in the file. An ack is sent
 * only after its commit, so the question is only whether a commit can have been lost:
 *
 * - clean close: nothing lost;
 * - unclean stop, `synchronous=FULL`: every commit reached the disk;
 * - unclean stop in the same boot (same Linux boot id): the process died, the OS did not. A
 *   commit in WAL mode is in the OS's page cache, which outlives the process: nothing lost;
 * - otherwise (a reboot, an unknown boot id on either side, a file with no record from an
 *   older wirehub): a power loss or an OS crash may have dropped the last commits, so the
 *   offsets after the last durable one may be handed out again: every stream gets a new
 *   epoch (offsets keep counting, history stays readable under the new epoch), and a client
 *   resubscribing with an old position learns `recovered: false`.
 *
 * @example
 * ```ts
 * epochDecision({ state: 'open', bootId: 'b1', sync: 'normal' }, 'b2', true);
 * // { keep: false, reason: 'unclean stop before a reboot (synchronous=normal)…' }
 * ```
 */
export function epochDecision(
  previous: PreviousSession,
  bootId: string | undefined,
  hasStreams: boolean,
): EpochDecision {
  if (!hasStreams) return { keep: true, reason: 'no streams' };
  if (previous.state === 'closed') return { keep: true, reason: 'clean stop' };
  if (previous.state === undefined)
    return { keep: false, reason: 'no record of how the previous process stopped (an older file)' };
  const sync = (previous.sync ?? 'normal') as SqliteSync;
  if (sync === 'full')
    return { keep: true, reason: 'unclean stop, every commit was synced (synchronous=full)' };
  if (bootId !== undefined && previous.bootId === bootId)
    return {
      keep: true,
      reason: 'unclean stop of the process in the same boot: committed writes survive it',
    };
  return {
    keep: false,
    reason:
      bootId === undefined || previous.bootId === undefined
        ? `unclean stop, and the boot id is unknown (synchronous=${sync}): commits may have been lost`
        : `unclean stop before a reboot (synchronous=${sync}): the last commits may have been lost`,
  };
}

/** This boot's id (Linux), or undefined where the OS does not tell. */
export function readBootId(): string | undefined {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
}
