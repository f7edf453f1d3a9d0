import { RtClient } from './rt-client.js';

export interface Position {
  epoch: string;
  offset: number;
}

/** One publication a server acknowledged, with what it acknowledged. */
export interface Ack {
  channel: string;
  position: Position;
  data: unknown;
}

export interface BurstOptions {
  /** The nodes to publish to (round robin over publishers). */
  nodes: { url: string; wsUrl: string }[];
  channels: string[];
  /** `/rt` connections, each with `window` commands in flight. */
  rtPublishers: number;
  window: number;
  /** HTTP clients publishing one request at a time. */
  httpPublishers: number;
  /** Tags the data, so two bursts never publish the same payload. */
  tag: string;
}

/**
 * Publishes flat out until stopped: `/rt` clients with several commands in flight each, and
 * HTTP clients. Every ack is recorded with the data it acknowledged; a refusal (e.g.
 * `broker_unavailable` while Redis is down) is recorded and retried a little later; a
 * publisher whose server died stops (what it had in flight was never acked).
 */
export class PublishBurst {
  readonly acks: Ack[] = [];
  readonly refusals: string[] = [];
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private n = 0;

  constructor(private readonly options: BurstOptions) {}

  async start(): Promise<void> {
    const { nodes, rtPublishers, window, httpPublishers } = this.options;
    for (let p = 0; p < rtPublishers; p += 1) {
      const node = nodes[p % nodes.length] as { wsUrl: string };
      const client = await RtClient.connect(`${node.wsUrl}/rt`);
      for (let w = 0; w < window; w += 1) this.loops.push(this.rtLoop(client, `rt${p}`));
    }
    for (let p = 0; p < httpPublishers; p += 1) {
      const node = nodes[p % nodes.length] as { url: string };
      this.loops.push(this.httpLoop(node.url, `http${p}`));
    }
  }

  /** Stops publishing; resolves once every publisher has its last answer (or its server died). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private next(by: string): { channel: string; data: unknown } {
    this.n += 1;
    const { channels, tag } = this.options;
    return { channel: channels[this.n % channels.length] as string, data: { by, n: this.n, tag } };
  }

  private refused(code: string): Promise<void> {
    this.refusals.push(code);
    return new Promise((resolve) => setTimeout(resolve, 20));
  }

  private async rtLoop(client: RtClient, by: string): Promise<void> {
    while (!this.stopped) {
      const { channel, data } = this.next(by);
      let reply: Awaited<ReturnType<RtClient['request']>>;
      try {
        reply = await client.request('publish', { channel, data });
      } catch {
        return; // the connection or the server died: this one was never acked
      }
      if (reply.op === 'reply') this.acks.push({ channel, position: reply.result as Position, data });
      else await this.refused(reply.code);
    }
    await client.close();
  }

  private async httpLoop(url: string, by: string): Promise<void> {
    while (!this.stopped) {
      const { channel, data } = this.next(by);
      let res: Response;
      try {
        res = await fetch(`${url}/api/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ channel, data }),
        });
      } catch {
        return;
      }
      const body = (await res.json()) as Position & { error?: { code: string } };
      if (res.status === 200) this.acks.push({ channel, position: body, data });
      else await this.refused(body.error?.code ?? String(res.status));
    }
  }
}

/**
 * Positions told to clients (acks, messages, history), each with every payload it was told
 * with: more than one payload for a position is an offset reused for other data.
 */
export class PositionLedger {
  private readonly payloads = new Map<string, Set<string>>();

  record(channel: string, position: Position, data: unknown): void {
    const key = `${channel} ${position.epoch} ${position.offset}`;
    const seen = this.payloads.get(key) ?? new Set<string>();
    seen.add(JSON.stringify(data));
    this.payloads.set(key, seen);
  }

  /** The positions told with two or more different payloads. */
  reused(): string[] {
    return [...this.payloads].filter(([, payloads]) => payloads.size > 1).map(([key]) => key);
  }

  get size(): number {
    return this.payloads.size;
  }
}
