import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { WirehubError } from '../../protocol/index.js';
import type { Logger } from '../../util/logger.js';
import { type ListenAddress, listenAddress } from '../listen-address.js';
import { refusalHeaders, type UpgradeGate } from '../ws/upgrade-gate.js';
import type { WsSession } from '../ws/ws-session.js';
import { type BunServer, bunRuntime } from './bun-types.js';
import { BunFanout, BunWire } from './bun-wire.js';

export interface BunTransportOptions {
  host: string;
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  maxPayloadBytes: number;
  maxQueuedBytes: number;
  /**
   * Share the port with the other worker processes of `--workers` (SO_REUSEPORT): Bun's
   * `node:cluster` has no primary that accepts and hands sockets over, so the kernel spreads
   * the connections over every process listening on the port.
   */
  reusePort?: boolean;
  /** Headers every accepted upgrade answers with (a `--workers` worker names itself). */
  upgradeHeaders?: Record<string, string> | undefined;
  /** The door every upgrade goes through (the same as on Node). */
  gate: UpgradeGate;
  /** The HTTP side, driven in process (`inject`): every route, hook and error as on Node. */
  http: FastifyInstance;
  log: Logger;
}

/** Largest request body Bun reads before the app sees it (the app's own limit is 1 MiB). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Response headers that belong to the connection the app never had, not to the answer. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

/**
 * The transport under Bun: one `Bun.serve` on the public port. WebSocket upgrades pass the
 * same `UpgradeGate` as on Node and then run on Bun's native (uWebSockets) server: frames are
 * read and written by native code, each session's rules (output cap, overflow policy, rate
 * limit, heartbeats) are the `WsSession`'s as on Node, through the server's `BunWire`. Plain HTTP requests
 * are handed to the Fastify app in process with `inject`, with the client's address, so every
 * route, hook, guard and error answer is the one Node serves; only what Bun's own HTTP parser
 * refuses before the app (a malformed request line, headers over its limit) is worded by Bun.
 *
 * @example
 * ```ts
 * const transport = new BunTransport({ host: '127.0.0.1', port: 0, gate, http: app, … });
 * const { url } = transport.listen();
 * await transport.close();
 * ```
 */
export class BunTransport {
  private server: BunServer | undefined;
  /** The fan-out groups (topics) of this server's connections; see `BunFanout`. */
  readonly fanout = new BunFanout();
  /** How every session writes to its socket: one for all, not an object per connection. */
  private readonly wire = new BunWire(this.fanout);

  constructor(private readonly o: BunTransportOptions) {
    o.gate.useWire(this.wire);
  }

  listen(): ListenAddress {
    const bun = bunRuntime();
    if (!bun) throw new Error('the bun transport needs the Bun runtime');
    const o = this.o;
    this.server = bun.serve<WsSession>({
      hostname: o.host,
      port: o.port,
      ...(o.tls ? { tls: o.tls } : {}),
      maxRequestBodySize: MAX_BODY_BYTES,
      ...(o.reusePort ? { reusePort: true } : {}),
      fetch: (req, server) => this.fetch(req, server),
      websocket: {
        open: (ws) => ws.data.attachWire(ws),
        message: (ws, message) => ws.data.onMessage(message, typeof message !== 'string'),
        pong: (ws) => ws.data.onPong(),
        close: (ws, code) => ws.data.onSocketClosed(code),
        maxPayloadLength: o.maxPayloadBytes,
        // wirehub's own heartbeat pings and judges; Bun's would close idle but healthy clients.
        idleTimeout: 0,
        sendPings: false,
        perMessageDeflate: false,
        // The session's cap (maxQueuedBytes) decides; Bun must never drop a frame on its own.
        backpressureLimit: Math.max(16 * 1024 * 1024, 2 * (o.maxQueuedBytes + o.maxPayloadBytes)),
        closeOnBackpressureLimit: false,
      },
    });
    this.fanout.bind(this.server);
    return this.address();
  }

  address(): ListenAddress {
    const server = this.server;
    if (!server) throw new Error('the server is not listening');
    return listenAddress(server.hostname, server.port, this.o.tls !== undefined);
  }

  async close(): Promise<void> {
    await this.server?.stop(true);
  }

  private async fetch(req: Request, server: BunServer): Promise<Response | undefined> {
    const message = incomingOf(req, server);
    if (req.headers.get('upgrade')?.toLowerCase() === 'websocket') return this.upgrade(req, server, message);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const res = await this.o.http.inject({
      method: req.method as 'GET',
      url: message.url ?? '/',
      headers: message.headers,
      remoteAddress: message.socket.remoteAddress ?? '',
      ...(body && body.byteLength > 0 ? { payload: body } : {}),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else headers.set(name, String(value));
    }
    return new Response(req.method === 'HEAD' ? null : res.rawPayload, { status: res.statusCode, headers });
  }

  private async upgrade(
    req: Request,
    server: BunServer,
    message: IncomingMessage,
  ): Promise<Response | undefined> {
    try {
      const admitted = await this.o.gate.admitNative(message, () => req.signal.aborted);
      if (!admitted) return new Response(null, { status: 499 });
      const { session, protocol } = admitted;
      const headers = {
        ...this.o.upgradeHeaders,
        ...(protocol ? { 'Sec-WebSocket-Protocol': protocol } : {}),
      };
      const upgraded = server.upgrade(req, {
        data: session,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
      });
      if (upgraded) return undefined;
      session.abandon();
      throw new WirehubError('bad_request', 'not a valid WebSocket handshake');
    } catch (err) {
      const error = err instanceof WirehubError ? err : new WirehubError('internal');
      return Response.json(
        { error: error.toJSON() },
        {
          status: error.status,
          headers: { Connection: 'close', 'X-Content-Type-Options': 'nosniff', ...refusalHeaders(error) },
        },
      );
    }
  }
}

/**
 * A Fetch `Request` as the little of Node's `IncomingMessage` the gate and the proxy rules read:
 * the raw target, lower-cased headers (repeated ones joined), the peer's address.
 */
function incomingOf(req: Request, server: BunServer): IncomingMessage {
  const url = new URL(req.url);
  const headers: IncomingHttpHeaders = {};
  req.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const remoteAddress = server.requestIP(req)?.address;
  const socket = { remoteAddress };
  return {
    method: req.method,
    url: url.pathname + url.search,
    headers,
    httpVersion: '1.1',
    socket,
    connection: socket,
  } as unknown as IncomingMessage;
}
