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
import { type CommandContext, type CommandOutcome, runCommand } from './commands.js';
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

/** Sends a command's reply or error (and runs what follows its reply). */
type Answer = () => void;

/**
 * Runs one frame up to where the connection's next frame may start, and returns how it will
 * be answered: exactly one `reply` or `error` per command, whatever happens. Most commands
 * answer when they are done; a publish may let the next command start once it took its
 * offset, and is answered when it is committed (see `DeferredOutcome`).
 */
async function startFrame(
  text: string,
  ctx: CommandContext,
  log: Logger,
  maxDepth: number,
): Promise<{ answer: Promise<Answer> } | undefined> {
  // Commands still queued when the connection went away have nobody to answer.
  if (!ctx.session.isOpen) return undefined;
  const decoded = decodeCommand(text, maxDepth);
  if (!decoded.ok)
    return { answer: Promise.resolve(() => sendError(ctx.session, decoded.id, decoded.error)) };
  const { id, op } = decoded.command;
  const failed =
    (err: unknown): Answer =>
    () => {
      if (!(err instanceof WirehubError))
        log.error({ err, session: ctx.session.id, op }, 'rt command failed');
      sendError(ctx.session, id, toWirehubError(err));
    };
  const replied =
    (outcome: CommandOutcome): Answer =>
    () => {
      ctx.session.send(Frame.json({ op: 'reply', id, result: outcome.result }));
      outcome.afterReply?.();
    };
  try {
    const started = await runCommand(decoded.command, ctx);
    const outcome = 'deferred' in started ? started.deferred : Promise.resolve(started);
    return { answer: outcome.then(replied, failed) };
  } catch (err) {
    return { answer: Promise.resolve(failed(err)) };
  }
}

export interface RtEndpointOptions {
  /** The task runner behind the `run` and `cancel` commands; without it they answer `not_available`. */
  runs?: RunService;
}

/** Where every connection's command and reply chains start: one settled promise for all. */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * `/rt`: the multiplexed JSON protocol (subprotocol `wirehub.v1`). Many channels over one
 * socket, every command answered, history recovery with offsets and epochs, presence. A
 * connection's commands start one after another, in the order they arrived, and are answered
 * in that order (a publish lets the next command start once its offset is taken, so one
 * connection's burst of publishes shares a group commit).
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
      // Commands start one after another, in the order they arrived; replies leave in that
      // order too, even when a later command finishes before an earlier publish is committed.
      let queue: Promise<void> = SETTLED;
      let replies: Promise<void> = SETTLED;
      const failed = (err: unknown) => log.error({ err, session: session.id }, 'rt frame failed');
      return {
        message(data) {
          queue = queue
            .then(() => startFrame(String(data), ctx, log, maxJsonDepth))
            .then((started) => {
              if (!started) return;
              replies = replies
                .then(() => started.answer)
                .then((answer) => answer())
                .catch(failed);
            })
            .catch(failed);
        },
        close() {
          ctx.subscriptions.clear();
          ctx.runFeeds.endAll();
        },
      };
    },
  });
}
