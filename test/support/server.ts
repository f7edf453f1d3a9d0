import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type ListenAddress, type WirehubServer } from '../../src/index.js';
import type { ServerOptions } from '../../src/server/options.js';

export interface RunningServer extends ListenAddress {
  server: WirehubServer;
  close(): Promise<void>;
}

/** A real server on 127.0.0.1 port 0 with a fresh data dir and silent logs. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const server = await createServer({
    port: 0,
    logLevel: 'silent',
    dataDir: mkdtempSync(join(tmpdir(), 'wirehub-test-')),
    defaultMetrics: false,
    ...options,
  });
  const address = await server.listen();
  return { ...address, server, close: () => server.close() };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'wirehub-test-'));
}
