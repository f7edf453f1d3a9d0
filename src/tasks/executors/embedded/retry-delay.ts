/**
 * Backoff before retrying after failed attempt `attempt` (1-based): `base` doubled for each
 * further attempt, at most `max`. Shared by every executor so a run's messages read the same.
 */
export function retryDelay(attempt: number, base: number, max: number): number {
  return Math.min(base * 2 ** (attempt - 1), max);
}
