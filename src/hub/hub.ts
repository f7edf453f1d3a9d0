import type { Engine, Origin, Publication, PublishInput } from '../engine/types.js';
import type { Frame } from './frame.js';
import type { OverflowPolicy, Session } from './session.js';

/**
 * Turns a publication into the bytes one kind of subscriber expects (plain text for
 * `/chat`, a JSON envelope for `/rt`, …). Encoders are shared objects: fan-out encodes each
 * publication once per encoder, not once per subscriber.
 */
export interface Encoder {
  readonly name: string;
  encode(pub: Publication): Frame;
}

/** A session's interest in one channel. */
export interface Subscriber {
  readonly session: Session;
  readonly encoder: Encoder;
  /** Skip publications this session published itself (chat rooms exclude the sender). */
  readonly excludeOwn?: boolean;
  readonly overflow?: OverflowPolicy;
}

interface ChannelState {
  subscribers: Subscriber[];
  /** Resolves once the engine delivers this channel to this node. */
  ready: Promise<void>;
}

/**
 * Channels and their local subscribers. Publications go out through the engine and come
 * back (from this node or any other) to `deliver`, which fans them out locally.
 *
 * @example
 * ```ts
 * const hub = new Hub(new MemoryEngine());
 * await hub.start();
 * await hub.subscribe('chat:lobby', { session, encoder: plainText, excludeOwn: true });
 * await hub.publish({ channel: 'chat:lobby', data: 'hi', from: { client: session.id } });
 * ```
 */
export class Hub {
  private readonly channels = new Map<string, ChannelState>();
  /** Deliveries written / skipped because of a full output queue, for metrics. */
  readonly counters = { deliveries: 0, overflows: 0 };

  constructor(readonly engine: Engine) {}

  async start(): Promise<void> {
    await this.engine.start((pub) => this.deliver(pub));
  }

  async subscribe(channel: string, subscriber: Subscriber): Promise<void> {
    let state = this.channels.get(channel);
    if (!state) {
      state = { subscribers: [], ready: this.engine.subscribe(channel) };
      this.channels.set(channel, state);
    }
    // Copy-on-write: a fan-out in progress keeps iterating its own snapshot.
    state.subscribers = [...state.subscribers, subscriber];
    await state.ready;
  }

  unsubscribe(channel: string, session: Session): void {
    const state = this.channels.get(channel);
    if (!state) return;
    state.subscribers = state.subscribers.filter((s) => s.session !== session);
    if (state.subscribers.length === 0) {
      this.channels.delete(channel);
      this.engine.unsubscribe(channel).catch(() => {});
    }
  }

  publish(input: PublishInput): Promise<Publication> {
    return this.engine.publish(input);
  }

  /** Number of local subscribers of a channel on this node. */
  localSubscribers(channel: string): number {
    return this.channels.get(channel)?.subscribers.length ?? 0;
  }

  /** Fans a publication out to this node's subscribers of its channel. */
  deliver(pub: Publication): void {
    const state = this.channels.get(pub.channel);
    if (!state) return;
    const own: Origin | undefined = pub.from;
    // Most channels have one encoder; a second one (plain + /rt on the same channel) is
    // common; more is rare. Two slots avoid a Map on the hot path.
    let enc1: Encoder | undefined;
    let frame1: Frame | undefined;
    let enc2: Encoder | undefined;
    let frame2: Frame | undefined;
    let others: Map<Encoder, Frame> | undefined;
    for (const sub of state.subscribers) {
      if (sub.excludeOwn && own !== undefined && own.client === sub.session.id) continue;
      let frame: Frame;
      if (sub.encoder === enc1 && frame1) frame = frame1;
      else if (sub.encoder === enc2 && frame2) frame = frame2;
      else if (!enc1) {
        enc1 = sub.encoder;
        frame1 = frame = sub.encoder.encode(pub);
      } else if (!enc2) {
        enc2 = sub.encoder;
        frame2 = frame = sub.encoder.encode(pub);
      } else {
        others ??= new Map();
        let f = others.get(sub.encoder);
        if (!f) {
          f = sub.encoder.encode(pub);
          others.set(sub.encoder, f);
        }
        frame = f;
      }
      if (sub.session.send(frame, sub.overflow ?? 'disconnect')) this.counters.deliveries += 1;
      else this.counters.overflows += 1;
    }
  }

  async close(): Promise<void> {
    this.channels.clear();
    await this.engine.close();
  }
}
