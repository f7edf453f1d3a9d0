/**
 * The server's own defaults (those clients share are `defaults` in src/protocol/limits.ts):
 * written once, for `createServer` (src/server/options.ts) and `wirehub serve` (src/cli/).
 *
 * @example
 * ```ts
 * import { serverDefaults } from './defaults.js';
 * const port = options.port ?? serverDefaults.port;
 * ```
 */
export const serverDefaults = {
  /** Interface to bind: this machine only. */
  host: '127.0.0.1',
  port: 8080,
  /** Where the embedded engine and run store keep their files. */
  dataDir: './.wirehub',
  logLevel: 'info',
  /** What an ack survives with the embedded stores: a crash of the process (`full`: also a power loss). */
  sqliteSync: 'normal',
  /** Time a client has to send its complete request headers (slowloris bound). */
  headersTimeoutMs: 10_000,
  /** Time a client has to send a complete request. */
  requestTimeoutMs: 30_000,
} as const;
