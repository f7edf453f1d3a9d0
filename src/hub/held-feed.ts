/**
 * How a `HeldFeed` orders its items: where an item stands (undefined: it has no place in the
 * order and always passes), and whether one position comes after another.
 */
export interface FeedOrder<T, P> {
  position(item: T): P | undefined;
  after(position: P, last: P): boolean;
}

/**
 * The hold/replay/dedupe logic of a subscriber that must send something first (a reply, a
 * replay of history) before the live items: it holds live items until `release()`, then passes
 * each one once, in order, dropping those at or before what the client already has (replayed,
 * or delivered twice by a racing read). `/rt` channel subscriptions order by epoch and offset,
 * run feeds by `seq`.
 *
 * @example
 * ```ts
 * const feed = new HeldFeed<RunUpdate, number>(bySeq);
 * const stop = await hub.watch(channel, (pub) => {
 *   if (feed.offer(pub.data as RunUpdate)) send(pub.data);
 * });
 * for (const update of await store.updates(runId)) if (feed.pass(update)) send(update);
 * for (const update of feed.release()) send(update);
 * ```
 */
export class HeldFeed<T, P> {
  private held: T[] | undefined = [];
  private last: P | undefined;

  constructor(private readonly order: FeedOrder<T, P>) {}

  /** Whether live items are still held back. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** A live item: held (false) while holding, afterwards true when it is new (and so delivered). */
  offer(item: T): boolean {
    if (this.held) {
      this.held.push(item);
      return false;
    }
    return this.pass(item);
  }

  /** An item sent outside the live flow (a replay): true when it is new, and marks it delivered. */
  pass(item: T): boolean {
    const position = this.order.position(item);
    if (position === undefined) return true;
    if (!this.isNew(position)) return false;
    this.last = position;
    return true;
  }

  /** The client already has everything up to `position`: skip it (an older position changes nothing). */
  seen(position: P): void {
    if (this.isNew(position)) this.last = position;
  }

  /** Stops holding: returns what was held and is new, in arrival order; later offers pass at once. */
  release(): T[] {
    const held = this.held ?? [];
    this.held = undefined;
    return held.filter((item) => this.pass(item));
  }

  private isNew(position: P): boolean {
    return this.last === undefined || this.order.after(position, this.last);
  }
}
