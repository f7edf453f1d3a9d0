import type { Hub } from '../../hub/hub.js';
import type { TokenVerifier } from '../../hub/principal.js';
import type { Session } from '../../hub/session.js';
import {
  type RtCancelResult,
  type RtCommand,
  type RtCommandOf,
  type RtHistoryResult,
  type RtOp,
  type RtPresenceResult,
  type RtPublishResult,
  type RtRefreshResult,
  type RtRunResult,
  WirehubError,
} from '../../protocol/index.js';
import { assertMayRun, assertMaySeeRun, requesterOf } from '../../tasks/runs/run-access.js';
import type { RunService } from '../../tasks/runs/run-service.js';
import { runChannel } from '../../tasks/runs/types.js';
import { originOf } from '../origin.js';
import type { RunFeeds } from '../run-feed.js';
import type { ChannelAccess } from './channel-access.js';
import { toRtPublication } from './encoders.js';
import type { RtSubscriptions } from './subscriptions.js';

/** What a command produced: the reply's `result`, and work to do right after the reply is sent. */
export interface CommandOutcome {
  result: unknown;
  afterReply?: () => void;
}

/**
 * A command that has done what must happen in command order (a publish took its offset) and
 * whose outcome comes later (the publish's commit): the connection's next command may start
 * meanwhile, so one connection's publishes share a group commit; replies still leave in
 * command order.
 */
export interface DeferredOutcome {
  deferred: Promise<CommandOutcome>;
}

/** What command handlers work with: one connection's session and subscriptions, and the hub. */
export interface CommandContext {
  hub: Hub;
  session: Session;
  /** What the session's principal may do on channels (read afresh on every check). */
  access: ChannelAccess;
  /** Verifies the tokens of `refresh`. */
  auth: TokenVerifier;
  subscriptions: RtSubscriptions;
  /** The task runner, when this server has one. */
  runs: RunService | undefined;
  /** The runs this connection started and follows (`run` pushes). */
  runFeeds: RunFeeds;
  /** Base of run URLs (public URL, or the upgrade request's Host). */
  baseUrl: string;
}

function requireRuns(runs: RunService | undefined): RunService {
  if (!runs) throw new WirehubError('not_available', 'the task runner is turned off on this server');
  return runs;
}

type Handler<Op extends RtOp> = (
  cmd: RtCommandOf<Op>,
  ctx: CommandContext,
) => Promise<CommandOutcome | DeferredOutcome>;

/** One handler per op: the compiler checks that every op of the protocol has one. */
const handlers: { [Op in RtOp]: Handler<Op> } = {
  async subscribe(cmd, { subscriptions }) {
    return subscriptions.subscribe(cmd.channel, cmd.since);
  },

  async unsubscribe(cmd, { subscriptions }) {
    subscriptions.unsubscribe(cmd.channel);
    return { result: {} };
  },

  async publish(cmd, { hub, session, access }) {
    await access.assert('publish', cmd.channel);
    const ns = hub.namespaces.require(cmd.channel);
    if (ns.publish !== 'anyone') {
      throw new WirehubError('forbidden', `only the server publishes to ${ns.pattern} channels`);
    }
    // The hub has it now (its offset is taken, in command order); the ack waits for the commit.
    const published = hub.publish({ channel: cmd.channel, data: cmd.data, from: originOf(session) });
    return {
      deferred: published.then((pub) => {
        const result: RtPublishResult = {};
        if (pub.epoch !== undefined) result.epoch = pub.epoch;
        if (pub.offset !== undefined) result.offset = pub.offset;
        return { result };
      }),
    };
  },

  async history(cmd, { hub, access }) {
    await access.assert('history', cmd.channel);
    const query = { ...(cmd.since ? { since: cmd.since } : {}), ...(cmd.limit ? { limit: cmd.limit } : {}) };
    const page = await hub.history(cmd.channel, query);
    const result: RtHistoryResult = {
      epoch: page.epoch,
      offset: page.offset,
      complete: page.complete,
      publications: page.publications.map(toRtPublication),
    };
    return { result };
  },

  async presence(cmd, { hub, access }) {
    await access.assert('presence', cmd.channel);
    const result: RtPresenceResult = { members: await hub.presence(cmd.channel) };
    return { result };
  },

  async run(cmd, { runs, runFeeds, baseUrl, session }) {
    const service = requireRuns(runs);
    // Grants before the registry: a refusal does not tell which tasks exist.
    assertMayRun(session.principal, { project: cmd.project, domain: cmd.domain, name: cmd.task });
    const prepared = await service.prepare(
      { project: cmd.project, domain: cmd.domain, name: cmd.task, version: cmd.version },
      cmd.inputs,
      requesterOf(session.principal),
    );
    // Follow before submitting so no update is missed; they are held until the reply is out.
    const feed = await runFeeds.follow(prepared.runId);
    let record: Awaited<ReturnType<RunService['submit']>>;
    try {
      record = await service.submit(prepared);
    } catch (err) {
      feed.end();
      throw err;
    }
    const result: RtRunResult = {
      run: prepared.runId,
      url: service.runUrl(record, baseUrl),
      status: record.status,
      channel: runChannel(prepared.runId),
    };
    return { result, afterReply: () => feed.release() };
  },

  async cancel(cmd, { runs, session }) {
    const service = requireRuns(runs);
    const run = await service.get(cmd.run);
    if (run) assertMaySeeRun(session.principal, run, 'cancel');
    const record = await service.cancel(cmd.run);
    const result: RtCancelResult = { run: cmd.run, status: record.status };
    return { result };
  },

  async refresh(cmd, { auth, session, subscriptions }) {
    // A bad token changes nothing: the connection goes on with its current credentials.
    const principal = await auth.verifyToken(cmd.token);
    if (principal.user !== session.principal.user) {
      throw new WirehubError('unauthorized', 'the token is for another user than this connection', {
        reason: 'other_user',
      });
    }
    session.reauthenticate(principal);
    const result: RtRefreshResult = { unsubscribed: await subscriptions.recheck() };
    if (principal.expiresAt !== undefined) result.expiresAt = principal.expiresAt;
    return { result };
  },

  async ping() {
    return { result: {} };
  },
};

/**
 * Runs one decoded command up to where the next one may start. Throws (or its deferred
 * outcome rejects with) a WirehubError for the `error` frame.
 */
export function runCommand(cmd: RtCommand, ctx: CommandContext): Promise<CommandOutcome | DeferredOutcome> {
  const handler = handlers[cmd.op] as Handler<RtOp>;
  return handler(cmd, ctx);
}
