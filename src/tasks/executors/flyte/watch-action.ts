import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import type { Logger } from '../../../util/logger.js';
import { connectCode, type FlyteClient, isTransient } from './client.js';
import type { ActionDetails, ActionIdentifierSchema } from './idl.js';

type ActionId = MessageInitShape<typeof ActionIdentifierSchema>;

export interface WatchOptions {
  /** First pause before subscribing again after a failure; doubles each time. Default 500 ms. */
  initialBackoffMs?: number;
  /** Longest pause. Default 10 s. */
  maxBackoffMs?: number;
  log: Logger;
}

/** Why following an action stopped without its final phase. */
export type WatchEnd =
  | { kind: 'done' }
  | { kind: 'closed' }
  | { kind: 'failed'; code: Code | undefined; error: unknown };

/**
 * Follows one action with `RunService.WatchActionDetails` until `onDetails` says it is done,
 * subscribing again (after a pause that doubles up to `maxBackoffMs`) when the stream fails
 * with a transient error or ends before the final phase, as the official SDK does. Every
 * snapshot goes to `onDetails`, in order, one at a time; repeats after a re-subscribe are the
 * caller's to drop (see `PhaseTranslator`). Unlike the SDK it never gives up on a transient
 * error: a run in progress must not be lost because the cluster was away for a while. It stops
 * on a permanent error (the action does not exist, permission denied), or when `signal` aborts.
 */
export async function watchAction(
  client: FlyteClient,
  actionId: ActionId,
  onDetails: (details: ActionDetails) => Promise<boolean>,
  signal: AbortSignal,
  options: WatchOptions,
): Promise<WatchEnd> {
  const initial = options.initialBackoffMs ?? 500;
  const max = options.maxBackoffMs ?? 10_000;
  let failures = 0;
  while (!signal.aborted) {
    try {
      for await (const res of client.runs.watchActionDetails({ actionId }, { signal })) {
        failures = 0;
        if (!res.details) continue;
        if (await onDetails(res.details)) return { kind: 'done' };
        if (signal.aborted) return { kind: 'closed' };
      }
      // Ended cleanly before the final phase (a proxy's stream limit): subscribe again after a pause.
      options.log.debug(
        { action: actionId.run?.name },
        'Flyte watch ended before the final phase; subscribing again',
      );
      await sleep(initial, undefined, { signal }).catch(() => {});
    } catch (err) {
      if (signal.aborted) return { kind: 'closed' };
      const code = connectCode(err);
      if (!isTransient(err) || code === Code.NotFound) return { kind: 'failed', code, error: err };
      // The token expired under the stream: the next subscription gets a new one.
      if (code === Code.Unauthenticated) client.auth.invalidate();
      failures += 1;
      const pause = Math.min(initial * 2 ** (failures - 1), max);
      options.log.warn(
        { err, action: actionId.run?.name, failures, pauseMs: pause },
        'Flyte watch interrupted; subscribing again',
      );
      await sleep(pause, undefined, { signal }).catch(() => {});
    }
  }
  return { kind: 'closed' };
}
