import type { Logger } from '../util/logger.js';

/** How many errors reached the process's last resort since it was installed. */
export interface LastResortStats {
  uncaughtExceptions: number;
  unhandledRejections: number;
}

/**
 * Process-wide handlers of last resort for `uncaughtException` and `unhandledRejection`: a
 * bug that escapes every `try` is logged with its context and counted, and the process keeps
 * serving its other clients instead of exiting and dropping all of them.
 *
 * Node's default (exit 1) is right while a process starts: a half-started server must not
 * pretend to serve. So this is installed only once the server (or worker) has started, by
 * `wirehub serve` and `wirehub worker`, or by a host program that asks for it with the
 * `handleUncaughtErrors` option: a library must not change a host's process-wide behaviour
 * on its own. Each error is counted (`wirehub_uncaught_errors_total` on `/metrics`); a
 * count that grows means a bug to fix, and an alert on it is the way to learn about it.
 *
 * @example
 * ```ts
 * const lastResort = new LastResort(log, 'serve');
 * lastResort.install();
 * // … later, on shutdown:
 * lastResort.uninstall();
 * ```
 */
export class LastResort {
  readonly stats: LastResortStats = { uncaughtExceptions: 0, unhandledRejections: 0 };
  private installed = false;

  constructor(
    private readonly log: Logger,
    /** Which process this is, for the log lines (`serve`, `worker`). */
    private readonly role: string,
  ) {}

  install(): void {
    if (this.installed) return;
    this.installed = true;
    process.on('uncaughtException', this.onException);
    process.on('unhandledRejection', this.onRejection);
  }

  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    process.off('uncaughtException', this.onException);
    process.off('unhandledRejection', this.onRejection);
  }

  private readonly onException = (err: Error, origin: string): void => {
    this.stats.uncaughtExceptions += 1;
    this.log.error(
      { err, origin, role: this.role, count: this.stats.uncaughtExceptions },
      'uncaught exception (a bug): logged, and the process keeps serving',
    );
  };

  private readonly onRejection = (reason: unknown): void => {
    this.stats.unhandledRejections += 1;
    this.log.error(
      { err: reason, role: this.role, count: this.stats.unhandledRejections },
      'unhandled promise rejection (a bug): logged, and the process keeps serving',
    );
  };
}
