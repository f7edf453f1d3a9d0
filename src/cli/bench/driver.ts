import WebSocket from 'ws';
import { CloseCode } from '../../protocol/close-codes.js';

/**
 * One load-generator connection as a scenario sees it: application messages in and out,
 * whatever the wire (plain WebSocket text, /rt JSON, Socket.IO events). Scenarios set the
 * callbacks; drivers call them.
 */
export interface BenchSocket {
  send(text: string): void;
  onMessage: (text: string) => void;
  /** The connection closed for any reason (`code` as received, 1006 when it just died). */
  onClose: (code: number) => void;
  /** Closing handshake; resolves when the connection is gone. */
  close(): Promise<void>;
  /** Drops the connection at once. */
  terminate(): void;
}

export interface ConnectOptions {
  /** Source address to bind, to spread connections over 127.0.0.x when ports run out. */
  localAddress?: string;
  /** Gives up on a handshake that takes longer. */
  timeoutMs: number;
  /** WebSocket subprotocols to offer (e.g. `wirehub.v1` for /rt). */
  protocols?: string[];
}

/** Opens connections of one kind. Scenarios take a driver so one loop measures any server. */
export interface Driver {
  readonly name: string;
  connect(url: string, options: ConnectOptions): Promise<BenchSocket>;
}

const noop = () => {};

/**
 * The zero masking key is legal (RFC 6455 §5.3 only asks for one per frame) and lets `ws`
 * skip the XOR on the client: the load generator's CPU goes to generating load.
 */
const zeroMask = (mask: Buffer) => {
  mask.fill(0);
};

class WsBenchSocket implements BenchSocket {
  onMessage: (text: string) => void = noop;
  onClose: (code: number) => void = noop;
  private readonly closed: Promise<void>;

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.onMessage(isBinary ? '' : (data as Buffer).toString('utf8'));
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code) => {
        this.onClose(code);
        resolve();
      });
    });
  }

  send(text: string): void {
    this.ws.send(text);
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(CloseCode.Normal);
    else if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    return this.closed;
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** Plain WebSocket text frames over `ws` (wirehub, raw ws, Fastify+ws, uWebSockets.js). */
export const wsDriver: Driver = {
  name: 'ws',
  connect(url, options) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.protocols ?? [], {
        perMessageDeflate: false,
        handshakeTimeout: options.timeoutMs,
        generateMask: zeroMask,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      });
      const fail = (err: Error) => {
        ws.terminate();
        reject(err);
      };
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        fail(new Error(`upgrade refused with HTTP ${res.statusCode}`));
      });
      ws.once('open', () => {
        ws.off('error', fail);
        // Later errors end in a 'close' event, which the scenario sees through onClose.
        ws.on('error', noop);
        resolve(new WsBenchSocket(ws));
      });
    });
  },
};
