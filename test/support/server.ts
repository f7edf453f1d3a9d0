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

/**
 * A real server as an `AsyncDisposable` resource: `await using s = await serverResource()`
 * closes it when the block ends, whatever happens in it. `restart()` stops it and starts a new
 * one with the same options on the same port and data dir, as an operator's restart does.
 */
export class ServerResource implements AsyncDisposable {
  readonly dataDir: string;
  private current: RunningServer;

  private constructor(
    private readonly options: ServerOptions,
    dataDir: string,
    running: RunningServer,
  ) {
    this.dataDir = dataDir;
    this.current = running;
  }

  static async start(options: ServerOptions = {}): Promise<ServerResource> {
    const dataDir = options.dataDir ?? tempDir();
    const running = await startServer({ ...options, dataDir });
    return new ServerResource(options, dataDir, running);
  }

  get server(): WirehubServer {
    return this.current.server;
  }
  get port(): number {
    return this.current.port;
  }
  get url(): string {
    return this.current.url;
  }
  get wsUrl(): string {
    return this.current.wsUrl;
  }

  /** Closes the server, then starts it again on the same port with the same data dir. */
  async restart(): Promise<void> {
    const port = this.current.port;
    await this.current.close();
    this.current = await startServer({ ...this.options, dataDir: this.dataDir, port });
  }

  close(): Promise<void> {
    return this.current.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** `ServerResource.start(options)`: see `ServerResource`. */
export function serverResource(options: ServerOptions = {}): Promise<ServerResource> {
  return ServerResource.start(options);
}
