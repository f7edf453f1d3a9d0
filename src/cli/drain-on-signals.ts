import type { Logger } from '../util/logger.js';

/**
 * SIGTERM/SIGINT drain the process (`drain()`, then exit 0; exit 1 if it fails); a second
 * signal exits 1 at once. Shared by `wirehub serve` and `wirehub worker`.
 *
 * @example
 * ```ts
 * drainOnSignals(server.log, () => ({ connections: server.connectionCount }), () => server.drain());
 * ```
 */
export function drainOnSignals(
  log: Logger,
  state: () => Record<string, unknown>,
  drain: () => Promise<void>,
): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal, ...state() }, 'draining');
    drain().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
