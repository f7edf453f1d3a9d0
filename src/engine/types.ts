import type { StoreHealth } from './store-health.js';

/**
 * The engine moves publications between nodes (Broker) and keeps channel state (Store:
 * history streams, presence). Every engine (memory, sqlite, redis) implements this one
 * interface and passes the same conformance suite. All calls are async because a
 * networked engine answers later; publications are identified by `id` so a node can
 * recognise its own publications coming back through a shared broker.
 */

/** Who published a message: a connection (`client`) and, when authenticated, a user. */
export interface Origin {
  client: string;
  user?: string;
}

/** A position in a channel stream. `offset` 0 with a fresh epoch means "empty stream". */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

/** One message on a channel, as delivered to every subscriber. */
export interface Publication {
  /** Unique id (node id + sequence) of this publication. */
  id: string;
  channel: string;
  data: unknown;
  from?: Origin;
  /** Milliseconds since the Unix epoch, set by the publishing node. */
  at: number;
  /** Set when the channel keeps history: the position of this publication. */
  epoch?: string;
  offset?: number;
}

/** How a channel keeps history; absent means "no history" (offsets are not assigned). */
export interface HistoryPolicy {
  /** Max publications kept. */
  size: number;
  /** Max age of kept publications in ms. */
  ttlMs: number;
}

export interface PublishInput {
  channel: string;
  data: unknown;
  from?: Origin;
  history?: HistoryPolicy;
}

export interface HistoryQuery {
  /** Return publications after this position (exclusive). */
  since?: StreamPosition;
  limit?: number;
}

export interface HistoryResult extends StreamPosition {
  publications: Publication[];
  /**
   * False when the requested `since` cannot be served gap-free (history trimmed or the epoch
   * changed): the caller must tell its client `recovered: false`.
   */
  complete: boolean;
}

export interface PresenceMember {
  client: string;
  user?: string;
  /** ms since the Unix epoch. */
  connectedAt: number;
}

/** Receives every publication for the channels this node subscribed to. */
export type PublicationHandler = (pub: Publication) => void;

/**
 * What a networked engine tells its node besides publications. Embedded engines never call
 * these: they have no link to lose and deliver every publication.
 */
export interface EngineEvents {
  /**
   * The link to the broker went down (`false`: publications of other nodes stop arriving,
   * history and presence calls fail) or is back (`true`: every subscription is re-established
   * and caught up from history where the channel keeps one).
   */
  link?(up: boolean): void;
  /**
   * Publications of a subscribed channel did not arrive live (an offset gap, or a link that
   * broke). `recovered`: the engine read them from history and delivered them, in order, before
   * anything newer. Otherwise they are lost to this node (history trimmed, the stream's epoch
   * changed, too many missed): subscribers that track offsets must resubscribe with `since`.
   */
  gap?(channel: string, recovered: boolean): void;
}

export interface Engine {
  readonly kind: string;
  /** An engine with a store file of its own (SQLite) reports its health here (readiness, `/metrics`). */
  readonly health?: StoreHealth | undefined;
  /**
   * Registers the node's single publication handler (and, for networked engines, the link
   * and gap events) and connects. On channels with history the handler sees each epoch's
   * publications in offset order with no gap; a gap it cannot fill is reported by `gap`.
   */
  start(handler: PublicationHandler, events?: EngineEvents): Promise<void>;
  /**
   * Appends (when the channel keeps history) and broadcasts to every subscribed node. On a
   * channel with history it resolves once the publication is committed in the engine's store
   * (what that survives depends on the engine: see docs/protocol.md), and subscribers never
   * get it before. Data that cannot be stored fails this publication alone (`json_too_deep`, `invalid_message`);
   * a store that cannot commit fails it with `store_unavailable` (SQLite) or
   * `broker_unavailable` (Redis).
   */
  publish(input: PublishInput): Promise<Publication>;
  /** Starts delivering the channel's publications to this node's handler. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Reads a channel's history after `since`. */
  history(channel: string, query: HistoryQuery, policy: HistoryPolicy): Promise<HistoryResult>;
  /** Current stream position (epoch and last offset). */
  position(channel: string): Promise<StreamPosition>;
  /**
   * Adds (or replaces) a member. With `ttlMs` the entry expires unless refreshed: the node
   * that added it refreshes it while the member is connected, so a dead node's members go.
   */
  presenceAdd(channel: string, member: PresenceMember, ttlMs?: number): Promise<void>;
  /** Extends the TTL of these members (the ones this node holds) by `ttlMs` from now. */
  presenceRefresh(channel: string, clients: string[], ttlMs: number): Promise<void>;
  presenceRemove(channel: string, client: string): Promise<void>;
  /** Current, unexpired members. */
  presenceList(channel: string): Promise<PresenceMember[]>;
  presenceCount(channel: string): Promise<number>;
  close(): Promise<void>;
}
