import type { Hub } from '../../hub/hub.js';
import { randomId } from '../../util/ids.js';
import type { Logger } from '../../util/logger.js';
import type { DisconnectTarget, LocalAdminView, NodeSnapshot } from './admin-view.js';

/** Requests to every node go out on this internal channel; each node answers on `$admin:<node>`. */
const REQUESTS = '$admin';
/** Presence of this channel lists the live nodes (each refreshes its own entry). */
const NODES = '$admin:nodes';

/** Connections one node lists at most per request (the request may ask for fewer). */
export const MAX_CONNECTIONS_PER_NODE = 10_000;

/** Which connections a listing wants (every filter is optional). */
export interface ConnectionFilter {
  user?: string;
  endpoint?: string;
  channel?: string;
  /** Per node. */
  limit?: number;
}

type Request =
  | { op: 'snapshot'; id: string; from: string; filter: ConnectionFilter }
  | { op: 'disconnect'; id: string; from: string; target: DisconnectTarget; code: number; reason: string };

interface Answer {
  op: 'answer';
  id: string;
  node: string;
  snapshot?: NodeSnapshot;
  disconnected?: number;
}

/** The answers of one cluster-wide request, and the live nodes that did not answer in time. */
export interface ClusterAnswers<T> {
  answers: { node: string; result: T }[];
  missing: string[];
}

interface Pending {
  expected: Set<string>;
  answers: Map<string, Answer>;
  done: () => void;
}

export interface ClusterAdminOptions {
  /** How long a request waits for the nodes that have not answered. Default 2 s. */
  answerTimeoutMs?: number;
  /** TTL of this node's entry in the node list (refreshed at a third of it). Default 15 s. */
  nodeTtlMs?: number;
  log: Logger;
}

/**
 * The admin API across every node of a server: a request goes to all nodes over the engine
 * (one internal channel, so it works the same on the embedded engine and on Redis), each node
 * answers from its own `LocalAdminView`, and the caller merges the answers. The node list is
 * a presence list that each node refreshes, so a dead node drops out after the TTL; a live node
 * that does not answer within the timeout is reported as `missing`, never silently left out.
 */
export class ClusterAdmin {
  private readonly pending = new Map<string, Pending>();
  private readonly stops: (() => void)[] = [];
  private refresher: NodeJS.Timeout | undefined;
  private readonly answerTimeoutMs: number;
  private readonly nodeTtlMs: number;

  constructor(
    private readonly hub: Hub,
    private readonly local: LocalAdminView,
    private readonly options: ClusterAdminOptions,
  ) {
    this.answerTimeoutMs = options.answerTimeoutMs ?? 2_000;
    this.nodeTtlMs = options.nodeTtlMs ?? 15_000;
  }

  get node(): string {
    return this.local.node;
  }

  async start(): Promise<void> {
    this.stops.push(await this.hub.watch(REQUESTS, (pub) => this.onRequest(pub.data as Request)));
    this.stops.push(await this.hub.watch(`$admin:${this.node}`, (pub) => this.onAnswer(pub.data as Answer)));
    await this.announce();
    this.refresher = setInterval(
      () => {
        this.announce().catch((err: unknown) =>
          this.options.log.warn({ err }, 'admin: refreshing the node entry failed'),
        );
      },
      Math.max(100, Math.floor(this.nodeTtlMs / 3)),
    );
    this.refresher.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.refresher);
    for (const stop of this.stops.splice(0)) stop();
    await this.hub.engine.presenceRemove(NODES, this.node).catch(() => {});
  }

  /** Every node's snapshot (connections filtered on each node). */
  snapshots(filter: ConnectionFilter = {}): Promise<ClusterAnswers<NodeSnapshot>> {
    return this.ask({ op: 'snapshot', id: randomId('q'), from: this.node, filter }, (a) => a.snapshot);
  }

  /** Closes the target's connections on every node; each node's answer is how many it closed. */
  disconnect(target: DisconnectTarget, code: number, reason: string): Promise<ClusterAnswers<number>> {
    return this.ask(
      { op: 'disconnect', id: randomId('q'), from: this.node, target, code, reason },
      (a) => a.disconnected,
    );
  }

  private async ask<T>(request: Request, pick: (a: Answer) => T | undefined): Promise<ClusterAnswers<T>> {
    const members = await this.hub.engine.presenceList(NODES);
    const expected = new Set([this.node, ...members.map((m) => m.client)]);
    const answers = new Map<string, Answer>();
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<void>((resolve) => {
      this.pending.set(request.id, { expected, answers, done: resolve });
      timer = setTimeout(resolve, this.answerTimeoutMs);
    });
    try {
      await this.hub.publish({ channel: REQUESTS, data: request });
      await finished;
    } finally {
      clearTimeout(timer);
      this.pending.delete(request.id);
    }
    const out: ClusterAnswers<T> = { answers: [], missing: [] };
    for (const node of expected) {
      const answer = answers.get(node);
      const result = answer ? pick(answer) : undefined;
      if (result === undefined) out.missing.push(node);
      else out.answers.push({ node, result });
    }
    // Nodes that answered although the list did not have them yet (they just started).
    for (const [node, answer] of answers) {
      const result = pick(answer);
      if (!expected.has(node) && result !== undefined) out.answers.push({ node, result });
    }
    return out;
  }

  private onRequest(request: Request): void {
    if (typeof request !== 'object' || request === null || typeof request.id !== 'string') return;
    const answer: Answer = { op: 'answer', id: request.id, node: this.node };
    if (request.op === 'snapshot') answer.snapshot = filtered(this.local.snapshot(), request.filter ?? {});
    else if (request.op === 'disconnect') {
      answer.disconnected = this.local.disconnect(request.target, request.code, request.reason);
    } else return;
    this.hub.publish({ channel: `$admin:${request.from}`, data: answer }).catch((err: unknown) => {
      this.options.log.warn({ err, to: request.from }, 'admin: answering a node failed');
    });
  }

  private onAnswer(answer: Answer): void {
    const pending = this.pending.get(answer?.id);
    if (!pending || typeof answer.node !== 'string') return;
    pending.answers.set(answer.node, answer);
    if ([...pending.expected].every((n) => pending.answers.has(n))) pending.done();
  }

  private announce(): Promise<void> {
    const member = { client: this.node, connectedAt: this.local.startedAt.getTime() };
    return this.hub.engine.presenceAdd(NODES, member, this.nodeTtlMs);
  }
}

function filtered(snapshot: NodeSnapshot, filter: ConnectionFilter): NodeSnapshot {
  const limit = Math.min(filter.limit ?? MAX_CONNECTIONS_PER_NODE, MAX_CONNECTIONS_PER_NODE);
  const connections = snapshot.connections
    .filter(
      (c) =>
        (filter.user === undefined || c.user === filter.user) &&
        (filter.endpoint === undefined || c.endpoint === filter.endpoint) &&
        (filter.channel === undefined || c.channels.includes(filter.channel)),
    )
    .slice(0, limit);
  return { ...snapshot, connections };
}
