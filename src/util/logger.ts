/**
 * The logging surface layers below the server use. Fastify's pino logger satisfies it; so
 * does a silent stub in tests. Keeping it this small keeps pino/Fastify types out of the hub.
 */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
