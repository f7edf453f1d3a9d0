import { Frame } from '../../hub/frame.js';
import type { Session } from '../../hub/session.js';
import {
  commandIdOf,
  decodeCommand,
  RT_SUBPROTOCOL,
  type RtError,
  toWirehubError,
  tryParseJson,
  WirehubError,
} from '../../protocol/index.js';
import type { RunService } from '../../tasks/runs/run-service.js';
import type { Logger } from '../../util/logger.js';
import { defineEndpoint } from '../endpoint.js';
import { RunFeeds } from '../run-feed.js';
import { requestBaseUrl } from '../task-runner.js';
import { ChannelAccess } from './channel-access.js';
import { type CommandContext, runCommand } from './commands.js';
import { rtRunUpdates } from './encoders.js';
import { RtSubscriptions } from './subscriptions.js';

function errorFrame(id: number | undefined, err: WirehubError): Frame {
  const frame: RtError = {
    op: 'error',
    ...(id === undefined ? {} : { id }),
    code: err.code,
    message: err.message,
  };
  if (err.details !== undefined) frame.details = err.details;
  return Frame.json(frame);
}

function sendError(session: Session, id: number | undefined, err: WirehubError): void {
  session.send(errorFrame(id, err));
}

/** The `id` of a command the server dropped unread, so the client knows which one failed. */
function commandId(data: string | Buffer): number | undefined {
  const parsed = tryParseJson(String(data));
  return commandIdOf(parsed.ok ? parsed.value : parsed.refused);
}

/** Runs one frame: exactly one `reply` or `error` per command, whatever happens. */
async function handleFrame(text: string, ctx: CommandContext, log: Logger, maxDepth: number): Promise<void> {
  // Commands still queued when the connection went away have nobody to answer.
  if (!ctx.session.isOpen) return;
  const decoded = decodeCommand(text, maxDepth);
  if (!decoded.ok) {
    sendError(ctx.session, decoded.id, decoded.error);
    return;
  }
  const { id } = decoded.command;
  try {
    const outcome = await runCommand(decoded.command, ctx);
    ctx.session.send(Frame.json({ op: 'reply', id, result: outcome.result }));
    outcome.afterReply?.();
  } catch (err) {
    if (!(err instanceof WirehubError))
      log.error({ err, session: ctx.session.id, op: decoded.command.op }, 'rt command failed');
    sendError(ctx.session, id, toWirehubError(err));
  }
}

export interface RtEndpointOptions {
  /** The task runner behind the `run` and `cancel` commands; without it they answer `not_available`. */
  runs?: RunService;
}

/**
 * `/rt`: the multiplexed JSON protocol (subprotocol `wirehub.v1`). Many channels over one
 * socket, every command answered, history recovery with offsets and epochs, presence. A
 * connection's commands run one after another, in the order they arrived.
 *
 * @example
 * ```ts
 * const ws = new WebSocket('ws://127.0.0.1:8080/rt', 'wirehub.v1');
 * ws.onopen = () => ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel: 'chat:lobby' }));
 * ```
 */
export function rtEndpoint(options: RtEndpointOptions = {}) {
  return defineEndpoint<string>({
    path: '/rt',
    name: 'rt',
    protocols: [RT_SUBPROTOCOL],
    // Parsing a dropped frame for its id is bounded: a client gets only a few such answers
    // before the rate limit closes it with 4029.
    errorFrame: (err, data) => errorFrame(commandId(data), err),
    accept(info) {
      const offered = info.headers['sec-websocket-protocol'];
      if (offered !== undefined) {
        const list = (Array.isArray(offered) ? offered.join(',') : offered).split(',').map((p) => p.trim());
        if (!list.includes(RT_SUBPROTOCOL)) {
          throw new WirehubError(
            'bad_request',
            `/rt speaks the subprotocol ${RT_SUBPROTOCOL}; offer it or none`,
          );
        }
      }
      return requestBaseUrl(info);
    },
    open(session, { hub, log, auth, maxJsonDepth }, baseUrl) {
      const access = new ChannelAccess(session, options.runs);
      const ctx: CommandContext = {
        hub,
        session,
        access,
        auth,
        subscriptions: new RtSubscriptions(hub, session, access),
        runs: options.runs,
        runFeeds: new RunFeeds(hub, session, rtRunUpdates),
        baseUrl,
      };
      let queue: Promise<void> = Promise.resolve();
      return {
        message(data) {
          queue = queue
            .then(() => handleFrame(String(data), ctx, log, maxJsonDepth))
            .catch((err: unknown) => log.error({ err, session: session.id }, 'rt frame failed'));
        },
        close() {
          ctx.subscriptions.clear();
          ctx.runFeeds.endAll();
        },
      };
    },
  });
}
