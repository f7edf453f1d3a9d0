import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server, for fault tests: `cut()` drops every connection through
 * it at once (both ends, no close handshake: what a network failure looks like to a client),
 * and `target` can point at another port (a restarted server) while clients keep the
 * proxy's address. While the target is down, new connections are refused by being dropped.
 * `block()` is a partition that lasts (cut, and every new connection dropped until
 * `unblock()`); `freeze()` a silent one (connections stay open, nothing is forwarded until
 * `thaw()`, like a hung peer or a black-holed network).
 */
export class TcpProxy {
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Connections accepted so far. */
  accepted = 0;
  private blocked = false;
  private frozen = false;
  /** What arrived while frozen, per destination, forwarded in order by `thaw()`. */
  private held: [Socket, Buffer][] = [];

  private constructor(
    private readonly server: Server,
    public target: number,
  ) {}

  static async start(target: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, target);
    server.on('connection', (client) => proxy.pipe(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  /** `ws://127.0.0.1:<proxy port>` */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Open connections through the proxy. */
  get open(): number {
    return this.pairs.size;
  }

  /** Drops every connection through the proxy. */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  /** Cuts every connection and drops new ones until `unblock()`. */
  block(): void {
    this.blocked = true;
    this.cut();
  }

  unblock(): void {
    this.blocked = false;
  }

  /** Stops forwarding in both directions; connections stay open. */
  freeze(): void {
    this.frozen = true;
  }

  /** Forwards what was held, then everything again. */
  thaw(): void {
    this.frozen = false;
    const held = this.held;
    this.held = [];
    for (const [to, chunk] of held) if (!to.destroyed) to.write(chunk);
  }

  async close(): Promise<void> {
    this.blocked = true;
    this.held = [];
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket): void {
    this.accepted += 1;
    if (this.blocked) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.frozen) this.held.push([to, chunk]);
      else if (!to.destroyed) to.write(chunk);
    });
    from.on('end', () => {
      if (!this.frozen) to.end();
    });
  }
}
