import type { Hub } from '../../hub/hub.js';
import type { Session } from '../../hub/session.js';

/** One connection as the admin API shows it. */
export interface AdminConnection {
  /** The node (process) that holds the connection. */
  node: string;
  id: string;
  endpoint: string;
  user?: string;
  remoteAddress: string;
  /** ISO 8601. */
  connectedAt: string;
  /** Channels it is subscribed to on its node. */
  channels: string[];
  /** Output queued for it and not yet handed to the kernel, in bytes. */
  queuedBytes: number;
}

/** One node's share of a channel. */
export interface AdminChannelShare {
  channel: string;
  subscribers: number;
  /** Publications per second delivered to the node (over the last 10–20 s). */
  publicationRate: number;
}

/** What one node holds (its answer to a cluster query). */
export interface NodeSnapshot {
  node: string;
  startedAt: string;
  /** Open connections on the node (all of them, whatever a listing filtered). */
  connectionCount: number;
  connections: AdminConnection[];
  channels: AdminChannelShare[];
}

/** Who to disconnect: one connection, or every connection of a user. */
export type DisconnectTarget = { client: string } | { user: string };

/**
 * What this node holds, read from its sessions and its hub: connections with their channels
 * and queued bytes, channels with their local subscribers and publication rates. Cheap to
 * build (one pass over the hub's channels), so it is built afresh on every admin request.
 */
export class LocalAdminView {
  readonly startedAt = new Date();

  constructor(
    readonly node: string,
    private readonly sessions: ReadonlySet<Session>,
    private readonly hub: Hub,
  ) {}

  snapshot(): NodeSnapshot {
    const channelsOf = this.hub.subscriptionsBySession();
    const connections: AdminConnection[] = [];
    for (const session of this.sessions) {
      // A connection already closing (disconnected a moment ago) is not held any more.
      if (!session.isOpen) continue;
      const connection: AdminConnection = {
        node: this.node,
        id: session.id,
        endpoint: session.endpoint,
        remoteAddress: session.remoteAddress,
        connectedAt: session.connectedAt.toISOString(),
        // Internal channels ($presence:…) are plumbing, not what the client subscribed to.
        channels: (channelsOf.get(session) ?? []).filter((c) => !c.startsWith('$')),
        queuedBytes: session.bufferedAmount,
      };
      if (session.user !== undefined) connection.user = session.user;
      connections.push(connection);
    }
    const channels = this.hub.channelStats().filter((c) => !c.channel.startsWith('$'));
    return {
      node: this.node,
      startedAt: this.startedAt.toISOString(),
      connectionCount: connections.length,
      connections,
      channels,
    };
  }

  /** Closes the matching connections of this node with `code`; returns how many. */
  disconnect(target: DisconnectTarget, code: number, reason: string): number {
    let closed = 0;
    for (const session of [...this.sessions]) {
      const match = 'client' in target ? session.id === target.client : session.user === target.user;
      if (!match || !session.isOpen) continue;
      session.close(code, reason);
      closed += 1;
    }
    return closed;
  }
}
