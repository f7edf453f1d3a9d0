import { RtClient } from './rt-client.js';

interface Position {
  epoch: string;
  offset: number;
}

/** What an `/rt` client saw, in order: subscribe replies and messages (replayed or live). */
export type SeenEvent =
  | { kind: 'subscribed'; since: Position | undefined; recovered: boolean | undefined; position: Position }
  | { kind: 'message'; position: Position; data: unknown; replayed: boolean };

/**
 * An `/rt` client that behaves as a careful application: it subscribes to one channel, keeps
 * the position of the last publication it processed and, whenever its connection closes,
 * reconnects and subscribes again with `since`. It records everything it saw, so a test can
 * prove that it has every publication or was told `recovered: false`.
 */
export class TrackingSubscriber {
  readonly seen: SeenEvent[] = [];
  readonly closeCodes: number[] = [];
  private position: Position | undefined;
  private stopped = false;
  private client: RtClient | undefined;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly url: () => string,
    readonly channel: string,
  ) {}

  async start(): Promise<void> {
    await this.connect();
  }

  /** The last position processed (from a message or a subscribe reply). */
  get last(): Position | undefined {
    return this.position;
  }

  messages(): { position: Position; data: unknown }[] {
    return this.seen.flatMap((e) => (e.kind === 'message' ? [e] : []));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.connecting;
    await this.client?.close();
  }

  /**
   * Throws unless the record has no silent gap: within an epoch every publication follows the
   * previous one (offset + 1), and any skip or change of epoch comes right after a subscribe
   * reply that said `recovered: false`.
   */
  assertNoSilentGap(): void {
    let at: Position | undefined;
    for (const [i, event] of this.seen.entries()) {
      if (event.kind === 'subscribed') {
        if (event.recovered === true) {
          if (!at || event.since?.epoch !== at.epoch || event.since.offset !== at.offset)
            throw new Error(
              `#${i}: recovered from ${JSON.stringify(event.since)}, but was at ${JSON.stringify(at)}`,
            );
        } else {
          // First subscribe, or recovered: false: the client knows it starts over here.
          at = event.position;
        }
        continue;
      }
      const p = event.position;
      if (!at || p.epoch !== at.epoch || p.offset !== at.offset + 1)
        throw new Error(`#${i}: silent gap: got ${JSON.stringify(p)} after ${JSON.stringify(at)}`);
      at = p;
    }
  }

  private connect(): Promise<void> {
    this.connecting = this.connectOnce().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectOnce(): Promise<void> {
    // Reconnect until it works (a node may be recovering); bounded so a test cannot spin.
    for (let attempt = 0; attempt < 200 && !this.stopped; attempt += 1) {
      try {
        const client = await RtClient.connect(this.url());
        this.client = client;
        const since = this.position;
        client.ws.on('message', (raw) => this.onFrame(JSON.parse(String(raw)), since));
        const reply = await client.request('subscribe', {
          channel: this.channel,
          ...(since ? { since } : {}),
        });
        if (reply.op === 'error') throw new Error(`${reply.code}: ${reply.message}`);
        client.closed.then(({ code }) => {
          this.closeCodes.push(code);
          if (!this.stopped) void this.connect();
        });
        return;
      } catch {
        this.client?.ws.terminate();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private onFrame(frame: Record<string, unknown>, since: Position | undefined): void {
    if (frame.op === 'reply') {
      const result = frame.result as Position & {
        recovered?: boolean;
        publications: (Position & { data: unknown })[];
      };
      const position = { epoch: result.epoch, offset: result.offset };
      this.seen.push({ kind: 'subscribed', since, recovered: result.recovered, position });
      for (const p of result.publications) {
        this.seen.push({
          kind: 'message',
          position: { epoch: p.epoch, offset: p.offset },
          data: p.data,
          replayed: true,
        });
      }
      this.position = position;
      return;
    }
    if (frame.op === 'message') {
      const position = { epoch: frame.epoch as string, offset: frame.offset as number };
      this.seen.push({ kind: 'message', position, data: frame.data, replayed: false });
      this.position = position;
    }
  }
}
