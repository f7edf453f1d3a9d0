/**
 * How the workers of `--workers` share one port. On Node, `node:cluster`'s primary listens and
 * hands each connection to a worker in turn, so every worker asks for the configured port (0
 * included) and gets the primary's. Under Bun each worker listens itself, with SO_REUSEPORT,
 * and the kernel spreads the connections; a port of 0 would then give every worker a port of
 * its own, so the first worker picks it and the primary starts the others (and any restarted
 * one) on that port, which it passes in {@link WORKER_PORT_ENV}.
 */
export const WORKER_PORT_ENV = 'WIREHUB_WORKER_PORT';

/** True when each worker binds the port itself (Bun) rather than through the primary (Node). */
export function workersBindThePort(): boolean {
  return process.versions.bun !== undefined;
}

/** In a worker: the port the primary chose for it, if it chose one. */
export function workerPort(): number | undefined {
  const given = Number(process.env[WORKER_PORT_ENV]);
  return Number.isInteger(given) && given > 0 && given < 65_536 ? given : undefined;
}
