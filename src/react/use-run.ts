import { useCallback, useEffect, useRef, useState } from 'react';
import type {
  RunEvent,
  RunHandle,
  RunOutcome,
  RunRequest,
  RunStatus,
  WirehubClient,
} from '../client/browser.js';
import { WirehubError } from '../client/browser.js';
import { useWirehubClient } from './context.js';

export interface RunView {
  /** The run followed: started with `start()`, or the `runId` given. */
  runId: string | undefined;
  /** Every update so far, in order (also across reconnects). */
  updates: RunEvent[];
  /** The latest status. */
  status: RunStatus | undefined;
  /** The final update once the run ended (SUCCEEDED, FAILED, ABORTED or TIMED_OUT). */
  outcome: RunOutcome | undefined;
  /** Why the run could not be started or followed (`unknown_task`, `invalid_inputs`, …). */
  error: WirehubError | undefined;
  /** Starts a run and follows it instead of the current one. */
  start(request: RunRequest): Promise<RunHandle>;
  /** Aborts the followed run; its ABORTED update follows. */
  cancel(): Promise<void>;
}

interface Followed {
  handle: RunHandle | undefined;
  updates: RunEvent[];
  outcome: RunOutcome | undefined;
  error: WirehubError | undefined;
}

const idle: Followed = { handle: undefined, updates: [], outcome: undefined, error: undefined };

/**
 * Starts a task run or follows one (`runId`: a run started elsewhere), re-rendering with its
 * updates and final outcome. Unmounting stops following (the run goes on on the server).
 *
 * @example
 * ```tsx
 * function Countdown() {
 *   const run = useRun();
 *   return <>
 *     <button onClick={() => run.start({ project: 'demo', domain: 'development', task: 'countdown', version: 'v1', inputs: { n: 3 } })}>run</button>
 *     <p>{run.status} {run.updates.at(-1)?.message}</p>
 *     {run.outcome && <pre>{JSON.stringify(run.outcome.outputs)}</pre>}
 *   </>;
 * }
 * ```
 */
export function useRun(runId?: string, options: { client?: WirehubClient } = {}): RunView {
  const client = useWirehubClient(options.client);
  const [followed, setFollowed] = useState<Followed>(idle);
  /** The handle whose news may change the state; any other is stale. */
  const current = useRef<RunHandle | undefined>(undefined);
  const mounted = useRef(true);

  const follow = useCallback((handle: RunHandle) => {
    current.current = handle;
    setFollowed({ handle, updates: [...handle.updates], outcome: undefined, error: undefined });
    const update = (change: Partial<Followed>) => {
      if (current.current === handle) setFollowed((f) => ({ ...f, updates: [...handle.updates], ...change }));
    };
    void (async () => {
      try {
        for await (const _ of handle) update({});
      } catch {
        // `result` says why.
      }
    })();
    handle.result.then(
      (outcome) => update({ outcome }),
      (error: WirehubError) => update({ error }),
    );
  }, []);

  const stopFollowing = useCallback(() => {
    const handle = current.current;
    current.current = undefined;
    if (!handle || handle.done) return;
    // A tick later, unless followed again: StrictMode's second mount gets the same handle back
    // from watchRun (stopping it at once would race the new subscription to its channel).
    setTimeout(() => {
      if (current.current !== handle) void handle.stop();
    }, 0);
  }, []);

  useEffect(() => {
    if (runId === undefined) return;
    try {
      follow(client.watchRun(runId));
    } catch (err) {
      setFollowed({
        ...idle,
        error: err instanceof WirehubError ? err : new WirehubError('internal', String(err)),
      });
    }
    return stopFollowing;
  }, [client, runId, follow, stopFollowing]);

  // Stop following on unmount.
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      stopFollowing();
    };
  }, [stopFollowing]);

  const start = useCallback(
    async (request: RunRequest) => {
      stopFollowing();
      setFollowed(idle);
      try {
        const handle = await client.runTask(request);
        // Unmounted while the run was starting: nobody shows it, so do not follow it.
        if (mounted.current) follow(handle);
        else void handle.stop();
        return handle;
      } catch (err) {
        const error = err instanceof WirehubError ? err : new WirehubError('internal', String(err));
        setFollowed({ ...idle, error });
        throw error;
      }
    },
    [client, follow, stopFollowing],
  );

  const cancel = useCallback(async () => {
    await followed.handle?.cancel();
  }, [followed.handle]);

  return {
    runId: followed.handle?.id ?? runId,
    updates: followed.updates,
    status: followed.updates.at(-1)?.status,
    outcome: followed.outcome,
    error: followed.error,
    start,
    cancel,
  };
}
