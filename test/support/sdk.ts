import { WebSocket } from 'ws';
import { type ClientEvents, WirehubClient, type WirehubClientOptions } from '../../src/client/index.js';

/**
 * Holds a client's (re)connects back: the client's token function awaits `pass()`, so a test
 * can make the server change (publish, finish a run) while the client is away, for certain.
 */
export class Gate {
  private opened: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  /** Connects wait from now on. */
  shut(): void {
    if (this.release) return;
    this.opened = new Promise<void>((resolve) => {
      this.release = resolve;
    });
  }

  open(): void {
    this.release?.();
    this.release = undefined;
  }

  /** For `token`: resolves (with no token) once the gate is open. */
  readonly pass = async (): Promise<undefined> => {
    await this.opened;
    return undefined;
  };
}

/** SDK clients made by a test file, closed after each test. */
export class Clients {
  private readonly made: WirehubClient[] = [];

  /** A client on `ws` with quick reconnects (tests should not wait out real backoff). */
  make(url: string, options: Omit<WirehubClientOptions, 'url' | 'WebSocket'> = {}): WirehubClient {
    const client = new WirehubClient({
      url,
      WebSocket,
      reconnect: { minDelayMs: 20, maxDelayMs: 200 },
      ...options,
    });
    this.made.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.made.splice(0).map((c) => c.close()));
  }
}

/** The next `event` of `client` (that satisfies `accept`). */
export function nextEvent<K extends keyof ClientEvents>(
  client: WirehubClient,
  event: K,
  accept: (value: ClientEvents[K]) => boolean = () => true,
): Promise<ClientEvents[K]> {
  return new Promise((resolve) => {
    const off = client.on(event, (value) => {
      if (!accept(value)) return;
      off();
      resolve(value);
    });
  });
}
