/**
 * Runs a store's `prune` now and then every `everyMs`, until the returned stop function is
 * called (`everyMs` 0: never). The timer is unref'd, so it never keeps a process alive; a failed prune (Redis
 * away, the store closing) is dropped, as the next one retries it. Rounds never overlap.
 *
 * @example
 * ```ts
 * const stop = startPruning(() => store.prune(), pruneIntervalMs(retentionMs));
 * // … on close:
 * stop();
 * ```
 */
export function startPruning(prune: () => Promise<number>, everyMs: number): () => void {
  if (everyMs <= 0) return () => {};
  let running = false;
  const round = (): void => {
    if (running) return;
    running = true;
    prune()
      .catch(() => {})
      .finally(() => {
        running = false;
      });
  };
  round();
  const timer = setInterval(round, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
