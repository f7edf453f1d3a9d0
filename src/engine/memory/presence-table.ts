import type { PresenceMember } from '../types.js';

interface Entry {
  member: PresenceMember;
  /** ms since the Unix epoch; Infinity when added without a TTL. */
  expiresAt: number;
}

/**
 * Presence of every channel in one process: members keyed by client id, each with an expiry
 * so that a member nobody refreshes (its node died) drops out of lists and counts.
 */
export class PresenceTable {
  private readonly channels = new Map<string, Map<string, Entry>>();

  add(channel: string, member: PresenceMember, ttlMs: number | undefined, now = Date.now()): void {
    let members = this.channels.get(channel);
    if (!members) {
      members = new Map();
      this.channels.set(channel, members);
    }
    members.set(member.client, {
      member,
      expiresAt: ttlMs === undefined ? Number.POSITIVE_INFINITY : now + ttlMs,
    });
  }

  refresh(channel: string, clients: string[], ttlMs: number, now = Date.now()): void {
    const members = this.channels.get(channel);
    if (!members) return;
    for (const client of clients) {
      const entry = members.get(client);
      if (entry) entry.expiresAt = now + ttlMs;
    }
  }

  remove(channel: string, client: string): void {
    const members = this.channels.get(channel);
    if (!members) return;
    members.delete(client);
    if (members.size === 0) this.channels.delete(channel);
  }

  list(channel: string, now = Date.now()): PresenceMember[] {
    const members = this.live(channel, now);
    return members ? [...members.values()].map((e) => e.member) : [];
  }

  count(channel: string, now = Date.now()): number {
    return this.live(channel, now)?.size ?? 0;
  }

  /** Drops every expired member, and every channel left without members. */
  sweep(now = Date.now()): void {
    for (const channel of this.channels.keys()) this.live(channel, now);
  }

  /** Channels with at least one entry (expired ones included until a read or sweep). */
  get channelCount(): number {
    return this.channels.size;
  }

  /** The channel's members after dropping the expired ones. */
  private live(channel: string, now: number): Map<string, Entry> | undefined {
    const members = this.channels.get(channel);
    if (!members) return undefined;
    for (const [client, entry] of members) if (entry.expiresAt <= now) members.delete(client);
    if (members.size === 0) {
      this.channels.delete(channel);
      return undefined;
    }
    return members;
  }
}
