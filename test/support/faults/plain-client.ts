import { WebSocket } from '../ws.js';
import { Actor, pause, RETRY_MS } from './actor.js';
import { plainKey, plainText } from './history.js';

export interface PlainClientOptions {
  /** `/chat/<room>` or `/broadcast`. */
  endpoint: string;
  /** The channel the endpoint is a view of (for the send records). */
  channel: string;
  /** Send a text every `paceMs` (`<id>/<connection>/<seq>`), or only listen. */
  publishes: boolean;
  paceMs: number;
}

/**
 * A seed-style plain WebSocket client of `/chat/{room}` or `/broadcast` (what `wscat` or the
 * seed's Python client does): it records every text it gets and, when it publishes, every
 * text it sends (plain endpoints have no acks). It reconnects after any close.
 */
export class PlainClient extends Actor<PlainClientOptions> {
  private ws: WebSocket | undefined;
  private seq = 0;

  protected override interrupt(): void {
    this.ws?.terminate();
  }

  drop(): void {
    this.ws?.terminate();
  }

  protected async run(): Promise<void> {
    while (!this.stopped) {
      const ws = await this.open();
      if (!ws) {
        await pause(RETRY_MS);
        continue;
      }
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      while (this.options.publishes && !this.stopped && ws.readyState === WebSocket.OPEN) {
        this.seq += 1;
        const text = plainText(this.id, this.conn, this.seq);
        this.ctx.history.add({
          type: 'send',
          actor: this.id,
          conn: this.conn,
          op: `${this.id}#${this.seq}`,
          channel: this.options.channel,
          key: text,
          via: 'plain',
        });
        ws.send(text);
        await pause(this.options.paceMs);
      }
      await closed;
    }
  }

  private open(): Promise<WebSocket | undefined> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${this.nextEntry().wsUrl}${this.options.endpoint}`);
      ws.on('error', () => resolve(undefined));
      ws.once('open', () => {
        this.connected();
        this.ws = ws;
        const conn = this.conn;
        const endpoint = this.options.endpoint;
        ws.on('message', (data) => {
          const text = String(data);
          // A refusal (e.g. broker_unavailable) is an error frame, not a publication.
          if (text.startsWith('{"error"')) return;
          this.ctx.history.add({ type: 'plain', actor: this.id, conn, endpoint, key: plainKey(text) });
        });
        ws.once('close', (code) => this.ctx.history.add({ type: 'closed', actor: this.id, conn, code }));
        resolve(ws);
      });
    });
  }
}
