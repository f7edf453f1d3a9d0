import { createRequire } from 'node:module';
import { type DestinationStream, type Logger as PinoLogger, pino } from 'pino';

/** `json`: one JSON object a line (for log collectors). `pretty`: readable lines for a terminal. */
export type LogFormat = 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * The pino logger of a server or worker process.
 *
 * @example
 * ```ts
 * const log = createPinoLogger('debug', process.stdout.isTTY ? 'pretty' : 'json');
 * log.info({ port: 8080 }, 'listening');
 * ```
 */
export function createPinoLogger(level: string, format: LogFormat = 'json'): PinoLogger {
  if (format === 'json') return pino({ level });
  // Loaded only when asked for (synchronously: servers are built in constructors), and as a
  // stream in this thread rather than a transport thread: a terminal needs no more.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (options: object) => DestinationStream;
  return pino(
    { level },
    pretty({
      colorize: process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
    }),
  );
}
