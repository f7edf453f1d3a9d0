import type { Engine, Origin, PresenceMember } from '../engine/types.js';
import type { Namespace } from './namespaces.js';

/** The internal channel that carries a channel's join/leave events between nodes. */
export function presenceChannel(channel: string): string {
  return `$presence:${channel}`;
}

/** True for hub-internal channels (never valid user channel names). */
export function isInternalChannel(channel: string): boolean {
  return channel.startsWith('$');
}

/** The data of a join/leave publication on a `$presence:` channel: already the `/rt` push. */
export interface PresenceEvent {
  op: 'join' | 'leave';
  channel: string;
  client: string;
  user?: string;
}

interface Pending {
  op: 'join' | 'leave';
  channel: string;
  member: PresenceMember;
  /** When it is announced: the end of its debounce window. */
  slot: number;
}

/**
 * Presence of this node's sessions: adds and removes members in the engine, refreshes their
 * TTL while they stay (so a dead node's members expire elsewhere), and announces joins and
 * leaves on `$presence:<channel>` after a debounce. A leave and a rejoin of the same client
 * inside the debounce window cancel out (a reconnect is not news); so does a join followed by
 * a leave.
 *
 * Announcements go out at the end of fixed windows of the debounce's length (an event `d`
 * to `2d` after it happened), all of a window in one turn. Why: in a reconnect storm every
 * client joins again, and each join is written to every member of its channel; announced one
 * by one, each is a write of its own to each member (O(members²) writes per channel). Sent
 * together, a member's socket gets one write per window for all of them.
 */
export class PresenceKeeper {
  private readonly local = new Map<string, Map<string, PresenceMember>>();
  private readonly pending = new Map<string, Pending>();
  /** Window end → the timer that announces it. */
  private readonly windows = new Map<number, NodeJS.Timeout>();
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly ttlMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.refreshTimer = setInterval(() => this.refresh(), Math.max(1, Math.floor(this.ttlMs / 3)));
    this.refreshTimer.unref();
  }

  stop(): void {
    clearInterval(this.refreshTimer);
    for (const timer of this.windows.values()) clearTimeout(timer);
    this.windows.clear();
    this.pending.clear();
    this.local.clear();
  }

  async join(channel: string, ns: Namespace, member: PresenceMember): Promise<void> {
    let members = this.local.get(channel);
    if (!members) {
      members = new Map();
      this.local.set(channel, members);
    }
    members.set(member.client, member);
    try {
      await this.engine.presenceAdd(channel, member, this.ttlMs);
    } catch (err) {
      // The broker is unreachable: the member stays known here and is added again when the
      // link comes back (rejoinAll), so a connection does not fail for it.
      this.onError(err);
    }
    if (ns.joinLeave) this.announce('join', channel, ns, member);
  }

  /** Adds every member of this node again (after the broker came back, possibly empty). */
  rejoinAll(): void {
    for (const [channel, members] of this.local) {
      for (const member of members.values()) {
        this.engine.presenceAdd(channel, member, this.ttlMs).catch(this.onError);
      }
    }
  }

  async leave(channel: string, ns: Namespace, member: PresenceMember): Promise<void> {
    const members = this.local.get(channel);
    if (!members?.delete(member.client)) return;
    if (members.size === 0) this.local.delete(channel);
    await this.engine.presenceRemove(channel, member.client);
    if (ns.joinLeave) this.announce('leave', channel, ns, member);
  }

  private announce(op: 'join' | 'leave', channel: string, ns: Namespace, member: PresenceMember): void {
    const key = `${channel}\n${member.client}`;
    const pending = this.pending.get(key);
    if (pending) {
      this.pending.delete(key);
      // The opposite event is still pending: the two cancel out.
      if (pending.op !== op) return;
    }
    const d = ns.joinLeaveDebounceMs;
    if (d <= 0) {
      this.send(op, channel, member);
      return;
    }
    const now = Date.now();
    const slot = Math.ceil((now + d) / d) * d; // a window boundary, d to 2d from now
    this.pending.set(key, { op, channel, member, slot });
    if (!this.windows.has(slot)) {
      const timer = setTimeout(() => this.announceWindow(slot), slot - now);
      timer.unref();
      this.windows.set(slot, timer);
    }
  }

  /** Announces every event whose window ends at `slot`, in the order they happened. */
  private announceWindow(slot: number): void {
    this.windows.delete(slot);
    for (const [key, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.pending.delete(key);
      this.send(p.op, p.channel, p.member);
    }
  }

  private send(op: 'join' | 'leave', channel: string, member: PresenceMember): void {
    const event: PresenceEvent = { op, channel, client: member.client };
    const from: Origin = { client: member.client };
    if (member.user !== undefined) {
      event.user = member.user;
      from.user = member.user;
    }
    this.engine.publish({ channel: presenceChannel(channel), data: event, from }).catch(this.onError);
  }

  private refresh(): void {
    for (const [channel, members] of this.local) {
      this.engine.presenceRefresh(channel, [...members.keys()], this.ttlMs).catch(this.onError);
    }
  }
}
