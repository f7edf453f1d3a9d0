import { z } from 'zod';
import { Frame } from '../hub/frame.js';
import type { Session } from '../hub/session.js';
import { parseJson, WirehubError } from '../protocol/index.js';
import { LATEST } from '../tasks/define-task.js';
import { assertMayRun, assertMaySeeRun, requesterOf } from '../tasks/runs/run-access.js';
import type { RunService } from '../tasks/runs/run-service.js';
import { isTerminal } from '../tasks/runs/state-machine.js';
import type { Logger } from '../util/logger.js';
import { Serial } from '../util/serial.js';
import type { EndpointContext, UpgradeInfo } from './endpoint.js';
import { defineEndpoint } from './endpoint.js';
import { plainRunUpdates, RunFeeds } from './run-feed.js';

// Strict like the inputs: `{"input":{…}}` (a typo of `inputs`) must not start a run with defaults.
const runRequest = z.strictObject({
  project: z.string(),
  domain: z.string(),
  task: z.string(),
  version: z.string().default(LATEST),
  inputs: z.unknown().optional(),
});
const runId = z.string().min(1).max(200);
const cancelRequest = z.object({ cancel: runId });
const watchRequest = z.object({ watch: runId });

function issuesOf(error: z.ZodError): { path: string[]; code: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String), code: i.code, message: i.message }));
}

function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new WirehubError('invalid_message', `${what}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, {
    issues: issuesOf(parsed.error),
  });
}

/** `http://<Host>` of the upgrade request: the base of run URLs when no public URL is set. */
export function requestBaseUrl(info: UpgradeInfo): string {
  const host = info.headers.host;
  if (typeof host === 'string' && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(host)) return `http://${host}`;
  return 'http://localhost';
}

/** One `/task-runner` connection: its requests are handled one after another, in order. */
class TaskRunnerConnection {
  private readonly feeds: RunFeeds;
  private readonly queue = new Serial();

  constructor(
    private readonly session: Session,
    private readonly ctx: EndpointContext,
    private readonly runs: RunService,
    private readonly baseUrl: string,
  ) {
    this.feeds = new RunFeeds(ctx.hub, session, plainRunUpdates);
  }

  /** Queues one message; the chain goes on whatever happens to it. */
  receive(text: string): Promise<void> {
    return this.queue.run(() => this.handle(text));
  }

  closeAll(): void {
    // The runs go on: only this client's view of them ends.
    this.feeds.endAll();
  }

  private async handle(text: string): Promise<void> {
    try {
      let msg: unknown;
      try {
        msg = parseJson(text, { what: 'message', maxDepth: this.ctx.maxJsonDepth });
      } catch (err) {
        if (err instanceof WirehubError && err.code === 'invalid_json') {
          throw new WirehubError(
            'invalid_json',
            'the message is not valid JSON; send {"project","domain","task","version","inputs"}',
          );
        }
        throw err;
      }
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
        throw new WirehubError(
          'invalid_message',
          'send a JSON object: {"project","domain","task","version","inputs"}, {"cancel":"<run_id>"} or {"watch":"<run_id>"}',
        );
      }
      if ('cancel' in msg) await this.cancel(parseOrThrow(cancelRequest, msg, 'cancel').cancel);
      else if ('watch' in msg) await this.watch(parseOrThrow(watchRequest, msg, 'watch').watch);
      else await this.start(parseOrThrow(runRequest, msg, 'run request'));
    } catch (err) {
      this.sendError(err, this.ctx.log);
    }
  }

  private sendError(err: unknown, log: Logger): void {
    let error: WirehubError;
    if (err instanceof WirehubError) error = err;
    else {
      log.error({ err, session: this.session.id }, 'task-runner request failed');
      error = new WirehubError('internal');
    }
    this.session.send(Frame.json({ error: error.toJSON() }));
  }

  private async start(req: z.infer<typeof runRequest>): Promise<void> {
    const principal = this.session.principal;
    // Grants before the registry: a refusal does not tell which tasks exist.
    assertMayRun(principal, { project: req.project, domain: req.domain, name: req.task });
    const prepared = await this.runs.prepare(
      { project: req.project, domain: req.domain, name: req.task, version: req.version },
      req.inputs,
      requesterOf(principal),
    );
    const feed = await this.feeds.follow(prepared.runId);
    let record: Awaited<ReturnType<RunService['submit']>>;
    try {
      record = await this.runs.submit(prepared);
    } catch (err) {
      feed.end();
      throw err;
    }
    this.session.send(
      Frame.json({
        run_id: prepared.runId,
        url: this.runs.runUrl(record, this.baseUrl),
        status: 'started',
      }),
    );
    feed.release();
  }

  private async watch(id: string): Promise<void> {
    const run = await this.runs.get(id);
    if (!run) throw new WirehubError('unknown_run', `no run ${id}`, { run_id: id });
    assertMaySeeRun(this.session.principal, run, 'see');
    const feed = await this.feeds.follow(id);
    for (const update of await this.runs.updates(id)) feed.replay(update);
    feed.release();
  }

  private async cancel(id: string): Promise<void> {
    const run = await this.runs.get(id);
    if (run) assertMaySeeRun(this.session.principal, run, 'cancel');
    if (!this.feeds.get(id)) {
      // Follow the run from now on, so this client sees the ABORTED update too.
      const feed = await this.feeds.follow(id);
      const record = await this.runs.get(id);
      if (!record || isTerminal(record.status)) feed.end();
      else {
        feed.skipTo(record.seq);
        feed.release();
      }
    }
    await this.runs.cancel(id);
  }
}

/**
 * `/task-runner`: the seed's "Using WebSockets with tasks", done properly. Each JSON request
 * `{"project","domain","task","version","inputs"}` answers `{"run_id","url","status":"started"}`,
 * then every update of the run (`{"run_id","status","message",…}`) until a terminal status,
 * whose update carries `outputs` or `error`. The connection keeps reading while runs
 * stream: several runs per socket, `{"cancel":"<run_id>"}` aborts one, `{"watch":"<run_id>"}`
 * replays a run's updates and follows the rest. Bad requests get
 * `{"error":{"code","message","details"}}` and the socket stays open. Disconnecting does
 * not stop a run.
 *
 * @example
 * ```ts
 * const server = await createServer({ endpoints: [taskRunnerEndpoint(runs)] });
 * ```
 */
export function taskRunnerEndpoint(runs: RunService) {
  return defineEndpoint<string>({
    path: '/task-runner',
    name: 'task-runner',
    accept: (info) => requestBaseUrl(info),
    open(session, ctx, baseUrl) {
      const connection = new TaskRunnerConnection(session, ctx, runs, baseUrl);
      return {
        message: (data) => connection.receive(String(data)),
        close: () => connection.closeAll(),
      };
    },
  });
}
