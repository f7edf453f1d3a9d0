import type { Logger } from '../util/logger.js';

/**
 * How long a repeat of the signal that started the drain counts as the same request. A
 * supervisor that signals a process group (systemd's default, `kill -TERM -<pgid>`, Ctrl-C in
 * a terminal under `npm start`) reaches Node twice: once directly and once forwarded by npm.
 */
export const REPEATED_SIGNAL_MS = 1_000;

/**
 * SIGTERM/SIGINT drain the process (`drain()`, then exit 0; exit 1 if it fails). The same
 * signal again within {@link REPEATED_SIGNAL_MS} is the duplicate of a process-group delivery
 * and is ignored; any later signal, or the other one at any time, exits 1 at once. Shared by
 * `wirehub serve` and `wirehub worker`.
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
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) {
      if (signal === first.signal && Date.now() - first.at < REPEATED_SIGNAL_MS) {
        log.debug({ signal }, 'repeated signal (process group delivery): already draining');
        return;
      }
      log.warn({ signal }, 'second signal: exiting now');
      return process.exit(1);
    }
    first = { signal, at: Date.now() };
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
