import { KEEP_WITHOUT_POLICY_MS, positionKeepMs } from '../retention.js';
import type { HistoryPolicy, HistoryQuery, HistoryResult, Publication, StreamPosition } from '../types.js';

/**
 * One channel's history: an epoch, the last offset, and the kept publications in offset
 * order. Offsets grow by one per publication with no gaps within an epoch; trimming only
 * removes from the front, so "since" can always tell whether it is still covered.
 */
export class ChannelStream {
  private entries: Publication[] = [];
  private head = 0;
  /** ms since the Unix epoch of the last publication, history read or position read. */
  lastUsed = Date.now();
  /**
   * The policy of the last publication or read; undefined while unknown (a stream only
   * `position()` touched). Kept by reference: recording it allocates nothing.
   */
  policy: HistoryPolicy | undefined;

  constructor(
    public epoch: string,
    public offset = 0,
  ) {}

  append(pub: Publication, policy: HistoryPolicy): void {
    this.offset += 1;
    pub.epoch = this.epoch;
    pub.offset = this.offset;
    this.entries.push(pub);
    this.policy = policy;
    this.lastUsed = pub.at;
    this.trim(policy, pub.at);
  }

  /** When the stream, unused since, is forgotten (see retention.ts). */
  forgetAt(): number {
    return this.lastUsed + (this.policy ? positionKeepMs(this.policy.ttlMs) : KEEP_WITHOUT_POLICY_MS);
  }

  /**
   * Drops the publications older than the policy's ttl without waiting for a read, and frees
   * their memory. Returns whether any was dropped.
   */
  expire(now: number): boolean {
    if (!this.policy) return false;
    const first = this.firstOffset();
    this.trim(this.policy, now);
    if (this.head > 0) this.kept();
    return this.firstOffset() !== first;
  }

  /** Restores a kept publication (used when loading persisted history). */
  restore(pub: Publication): void {
    this.entries.push(pub);
    if (pub.offset !== undefined && pub.offset > this.offset) this.offset = pub.offset;
  }

  /** Offset of the oldest kept publication (`offset + 1` when none is kept). */
  firstOffset(): number {
    return this.entries[this.head]?.offset ?? this.offset + 1;
  }

  position(): StreamPosition {
    return { epoch: this.epoch, offset: this.offset };
  }

  read(query: HistoryQuery, policy: HistoryPolicy, now = Date.now()): HistoryResult {
    this.policy = policy;
    this.lastUsed = now;
    this.trim(policy, now);
    const kept = this.kept();
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    const since = query.since;
    if (!since) {
      const start = Math.max(0, kept.length - limit);
      return { ...this.position(), publications: kept.slice(start), complete: true };
    }
    const firstKept = kept[0]?.offset ?? this.offset + 1;
    const covered =
      since.epoch === this.epoch && since.offset <= this.offset && since.offset >= firstKept - 1;
    if (!covered) return { ...this.position(), publications: [], complete: false };
    const start = since.offset - firstKept + 1;
    return { ...this.position(), publications: kept.slice(start, start + limit), complete: true };
  }

  private kept(): Publication[] {
    if (this.head > 0) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return this.entries;
  }

  private trim(policy: HistoryPolicy, now: number): void {
    const oldest = now - policy.ttlMs;
    let head = this.head;
    const overSize = this.entries.length - head - policy.size;
    if (overSize > 0) head += overSize;
    while (head < this.entries.length && (this.entries[head]?.at ?? now) < oldest) head += 1;
    this.head = head;
    // Compact occasionally so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.entries.length) this.kept();
  }
}
