/**
 * Exits 1 at once on an error that escapes while a process starts (an uncaught exception or
 * an unhandled rejection), until the returned function is called: a half-started server must
 * not serve. Node does this by default; Bun prints the error but lets the process run on
 * until its worker threads (the task pool) have stopped, long enough for the server to
 * listen and say it is ready. Call the returned function once the process has started, when
 * the server's last-resort handlers (see `LastResort`) take over.
 *
 * @example
 * ```ts
 * const started = exitOnStartErrors();
 * await server.listen();
 * started();
 * ```
 */
export function exitOnStartErrors(): () => void {
  const fail = (err: unknown): void => {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`wirehub: an error escaped while starting: ${text}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  return () => {
    process.off('uncaughtException', fail);
    process.off('unhandledRejection', fail);
  };
}
