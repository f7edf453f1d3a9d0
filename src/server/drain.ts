import { CloseCode } from '../protocol/index.js';

/** What a drain closes: a connection it can ask to close with a code and a reason. */
export interface Closable {
  close(code: number, reason: string): void;
}

/** Clients that never answer the close handshake get this long after the window, then are cut. */
export const DRAIN_GRACE_MS = 2_000;

/**
 * The connection part of a graceful shutdown: closes every one of `sessions` with 1001
 * (going away), spread evenly over `windowMs` so clients do not all reconnect at once, and
 * resolves when `allClosed` does (the last one is gone) or `windowMs` + `DRAIN_GRACE_MS`
 * later, whichever comes first. Closes not yet sent by then are not sent.
 *
 * @example
 * ```ts
 * await closeSpread([...sessions], 5_000, allSessionsGone);
 * ```
 */
export async function closeSpread(
  sessions: readonly Closable[],
  windowMs: number,
  allClosed: Promise<void>,
): Promise<void> {
  if (sessions.length === 0) return;
  const timers: NodeJS.Timeout[] = [];
  const step = sessions.length > 1 ? windowMs / sessions.length : 0;
  sessions.forEach((session, i) => {
    timers.push(
      setTimeout(() => session.close(CloseCode.GoingAway, 'server shutting down'), Math.floor(i * step)),
    );
  });
  let grace: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    grace = setTimeout(resolve, windowMs + DRAIN_GRACE_MS);
  });
  await Promise.race([allClosed, timedOut]);
  clearTimeout(grace);
  for (const t of timers) clearTimeout(t);
}
