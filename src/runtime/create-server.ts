import { WirehubServer } from '../server/create-server.js';
import type { ServerOptions } from '../server/options.js';
import { backendAssembler } from './backends.js';

/**
 * Creates a wirehub server (not yet listening). Loads the backends its options ask for
 * (Redis and BullMQ only with `redis`) and builds them (see `assembleBackends`).
 *
 * @example
 * ```ts
 * import { createServer, defineEndpoint, Frame } from 'wirehub';
 * const server = await createServer({ port: 8080 });
 * server.addEndpoint(defineEndpoint({
 *   path: '/time',
 *   name: 'time',
 *   open: (session) => { session.send(Frame.text(new Date().toISOString())); return {}; },
 * }));
 * await server.listen();
 * ```
 */
export async function createServer(options: ServerOptions = {}): Promise<WirehubServer> {
  const withTransport = { ...options, transport: options.transport ?? defaultTransport() };
  return new WirehubServer(withTransport, await backendAssembler(withTransport));
}

/** Bun's native server under Bun (unless `WIREHUB_TRANSPORT=node`), else Node's. */
export function defaultTransport(): 'node' | 'bun' {
  if (typeof process.versions.bun !== 'string') return 'node';
  return process.env.WIREHUB_TRANSPORT === 'node' ? 'node' : 'bun';
}
