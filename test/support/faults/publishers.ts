import { RtClient } from '../rt-client.js';
import { Actor, pause, RETRY_MS } from './actor.js';
import { type History, type Payload, payloadKey, positionOf } from './history.js';

/** An answer slower than this counts as unknown (`info`): it may still have happened. */
const ANSWER_TIMEOUT_MS = 8_000;

export interface PublisherOptions {
  channels: readonly string[];
  /** Publications sent back to back before waiting for their answers. */
  burst: number;
  /** Pause between bursts. */
  paceMs: number;
}

/** Records an accepted publication, at its position on channels with history. */
function recordAck(
  history: History,
  actor: string,
  conn: number,
  op: string,
  channel: string,
  key: string,
  result: { epoch?: string; offset?: number },
): void {
  const position = positionOf(result);
  history.add({
    type: 'ack',
    actor,
    conn,
    op,
    channel,
    key,
    ...(position ? { position } : {}),
  });
}

/**
 * Publishes `{p, c, s}` payloads over `/rt` in pipelined bursts (so that a fault lands while
 * many are in flight), recording each send and its outcome: ack with epoch/offset, error
 * code, or unknown when the connection dropped first. Never retries a payload: every
 * publication is unique.
 */
export class RtPublisher extends Actor<PublisherOptions> {
  private seq = 0;
  private client: RtClient | undefined;
  /** While set, this many publications are kept in flight (load when a fault hits). */
  private surgeWindow: number | undefined;
  private wakeSurge: (() => void) | undefined;

  protected override interrupt(): void {
    this.wakeSurge?.();
  }

  protected override close(): void {
    this.client?.ws.terminate();
  }

  /**
   * Keeps `window` publications in flight at all times (each answer sends the next), until
   * `surge(undefined)`: the load a crash must not lose acknowledged publications under
   * (acks written while their batch is not committed yet).
   */
  surge(window: number | undefined): void {
    this.surgeWindow = window;
    this.wakeSurge?.();
  }

  /** Drops the connection as a network failure would; the loop reconnects. */
  drop(): void {
    this.client?.ws.terminate();
  }

  /**
   * Publishes big payloads (`padBytes` of filler) to `channel` in bursts until `enough()`
   * says so or `max` were sent: a flood that fills a slow consumer's queue.
   */
  async flood(
    channel: string,
    padBytes: number,
    enough: () => Promise<boolean>,
    max: number,
  ): Promise<number> {
    const pad = 'x'.repeat(padBytes);
    let sent = 0;
    while (sent < max && !(await enough())) {
      const client = await this.connectedClient();
      if (!client) return sent;
      await Promise.all(Array.from({ length: 16 }, () => this.publish(client, channel, pad)));
      sent += 16;
    }
    return sent;
  }

  protected async run(): Promise<void> {
    while (!this.stopped) {
      if (this.options.burst === 0 && this.surgeWindow === undefined) {
        // Publishes only in surges (and floods): wait for one.
        await new Promise<void>((resolve) => {
          this.wakeSurge = resolve;
        });
        continue;
      }
      this.ctx.history.round();
      const client = await this.connectedClient();
      if (!client) continue;
      const { burst, channels, paceMs } = this.options;
      if (this.surgeWindow !== undefined) await this.surgeOn(client);
      else {
        const answers = await Promise.all(
          Array.from({ length: burst }, () => this.publish(client, this.rng.pick(channels))),
        );
        // A client backs off when the server refuses (e.g. broker_unavailable).
        await pause(answers.every((ok) => ok) ? paceMs : RETRY_MS);
      }
    }
  }

  /** The sliding window of a surge, on one connection, until the surge ends or it closes. */
  private async surgeOn(client: RtClient): Promise<void> {
    const { channels } = this.options;
    let inFlight = 0;
    const open = () => client.ws.readyState === client.ws.OPEN;
    while (this.surgeWindow !== undefined && !this.stopped && open()) {
      while (inFlight < this.surgeWindow && open()) {
        inFlight += 1;
        void this.publish(client, this.rng.pick(channels)).finally(() => {
          inFlight -= 1;
          this.wakeSurge?.();
        });
      }
      await new Promise<void>((resolve) => {
        this.wakeSurge = resolve;
      });
    }
    this.wakeSurge = undefined;
  }

  private async connectedClient(): Promise<RtClient | undefined> {
    if (this.client && this.client.ws.readyState === this.client.ws.OPEN) return this.client;
    if (this.stopped) return undefined;
    try {
      this.client = await RtClient.connect(`${this.nextEntry().wsUrl}/rt`);
      this.connected();
      return this.client;
    } catch {
      this.ctx.history.unsentOutcome();
      await pause(RETRY_MS);
      return undefined;
    }
  }

  /** Resolves true when acked. */
  private async publish(client: RtClient, channel: string, pad?: string): Promise<boolean> {
    this.seq += 1;
    const data: Payload = { p: this.id, c: this.conn, s: this.seq, ...(pad ? { pad } : {}) };
    const key = payloadKey(data);
    const op = `${this.id}#${this.seq}`;
    const { history } = this.ctx;
    const conn = this.conn;
    history.add({ type: 'send', actor: this.id, conn, op, channel, key, via: 'rt' });
    try {
      const reply = await client.request('publish', { channel, data }, ANSWER_TIMEOUT_MS);
      if (reply.op === 'error') {
        history.add({ type: 'fail', actor: this.id, op, code: reply.code });
        return false;
      }
      recordAck(
        history,
        this.id,
        conn,
        op,
        channel,
        key,
        reply.result as { epoch?: string; offset?: number },
      );
      return true;
    } catch (err) {
      history.add({ type: 'info', actor: this.id, op, reason: (err as Error).message });
      return false;
    }
  }
}

/**
 * Publishes one payload at a time with `POST /api/publish` (a backend service): a 200 is an
 * ack, a 4xx a failure, anything else (5xx, a dropped connection) unknown.
 */
export class HttpPublisher extends Actor<Omit<PublisherOptions, 'burst'>> {
  private seq = 0;

  protected async run(): Promise<void> {
    // HTTP has no connection of its own to count: one "connection" for the whole run.
    this.connected();
    while (!this.stopped) {
      this.ctx.history.round();
      const channel = this.rng.pick(this.options.channels);
      const acked = await this.publish(channel);
      await pause(acked ? this.options.paceMs : RETRY_MS);
    }
  }

  /** Resolves true when acked (200). */
  private async publish(channel: string): Promise<boolean> {
    this.seq += 1;
    const data: Payload = { p: this.id, c: this.conn, s: this.seq };
    const key = payloadKey(data);
    const op = `${this.id}#${this.seq}`;
    const { history } = this.ctx;
    history.add({ type: 'send', actor: this.id, conn: this.conn, op, channel, key, via: 'http' });
    let status: number;
    let body: string;
    try {
      const res = await fetch(`${this.nextEntry().url}/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel, data }),
        signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
      });
      status = res.status;
      body = await res.text();
    } catch (err) {
      history.add({ type: 'info', actor: this.id, op, reason: (err as Error).message });
      return false;
    }
    if (status === 200) {
      // The next request goes home first again.
      this.resetAttempts();
      recordAck(
        history,
        this.id,
        this.conn,
        op,
        channel,
        key,
        JSON.parse(body) as { epoch?: string; offset?: number },
      );
      return true;
    }
    if (status >= 400 && status < 500)
      history.add({ type: 'fail', actor: this.id, op, code: String(status) });
    else history.add({ type: 'info', actor: this.id, op, reason: `HTTP ${status}: ${body.slice(0, 200)}` });
    return false;
  }
}
