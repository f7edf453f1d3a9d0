/**
 * How long every engine keeps an idle channel's stream. One rule for all engines, so a client
 * can count on it whichever engine the server runs:
 *
 * - a channel's **position** (epoch + offset) is kept 2 × the history TTL after its last use
 *   (Redis: its last publication; embedded engines: its last publication, history read or
 *   position read). Twice the TTL so a client that missed nothing still recovers after the
 *   history itself expired; after that the channel is forgotten and its next use starts a new
 *   epoch, so a client resubscribing with `since` learns `recovered: false`, never a silent gap.
 * - a stream whose history policy the engine never saw (only `position()` touched it, so it
 *   is empty) is kept {@link KEEP_WITHOUT_POLICY_MS} after its last use.
 *
 * @example
 * ```ts
 * positionKeepMs(60_000); // 120_000: a channel with a 1 min history TTL is forgotten 2 min after its last use
 * ```
 */
export function positionKeepMs(ttlMs: number): number {
  return ttlMs * 2;
}

/** How long an empty stream whose history policy is unknown outlives its last use. */
export const KEEP_WITHOUT_POLICY_MS = 10 * 60 * 1000;
