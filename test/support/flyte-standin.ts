// A Flyte 2 control plane stand-in for tests: the real services (TaskService, RunService,
// AuthMetadataService) from the same flyteidl2 descriptors the executor uses, served with
// @connectrpc/connect-node over HTTP/1.1 or HTTP/2 (h2c), so calls and the WatchActionDetails
// server stream go through real Connect framing. Tasks are scripted: each attempt of a run
// walks through phases as its behaviour says (slow phases, retries, failures, timeouts); tests
// can drop watch streams, take the server down and bring it back, and require OAuth2
// client-credential tokens that expire.
import { once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { clone, create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

import {
  AbortInfoSchema,
  ActionAttemptSchema,
  type ActionDetails,
  ActionDetailsSchema,
  ActionPhase,
  AuthMetadataService,
  type CreateRunRequest,
  CreateRunRequestSchema,
  ErrorInfo_Kind,
  ErrorInfoSchema,
  type Literal,
  type LiteralType,
  PhaseTransitionSchema,
  RunService,
  type TaskDetails,
  TaskDetailsSchema,
  TaskService,
} from '../../src/tasks/executors/flyte/idl.js';

/** What one attempt of a scripted task ends with. */
export type AttemptEnd =
  | { outputs: Record<string, Literal> }
  | {
      error: { kind: 'USER' | 'SYSTEM'; message: string };
      phase?: ActionPhase.FAILED | ActionPhase.TIMED_OUT;
    };

/** What a task's behaviour gets for one attempt. */
export interface AttemptContext {
  attempt: number;
  inputs: Map<string, Literal>;
  /** Aborted by AbortRun. */
  signal: AbortSignal;
  /** Moves the attempt (and the action) to a phase. */
  phase(phase: ActionPhase): void;
  /** Sleeps; rejects when the run is aborted. */
  sleep(ms: number): Promise<void>;
}

export interface StandinTask {
  project: string;
  domain: string;
  name: string;
  version: string;
  inputs: [name: string, type: LiteralType, defaultValue?: Literal][];
  outputs: [name: string, type: LiteralType][];
  retries?: number;
  description?: string;
  /** One attempt. Default: INITIALIZING, RUNNING, then no outputs. */
  behave?(ctx: AttemptContext): Promise<AttemptEnd>;
}

/** The usual start of an attempt: INITIALIZING then RUNNING. */
export function starting(ctx: AttemptContext): void {
  ctx.phase(ActionPhase.INITIALIZING);
  ctx.phase(ActionPhase.RUNNING);
}

export interface StandinAuth {
  clientId: string;
  clientSecret: string;
  /** Lifetime of each token. */
  tokenTtlMs: number;
}

export interface StandinOptions {
  tasks: StandinTask[];
  /** HTTP version served: HTTP/1.1, or HTTP/2 without TLS (prior knowledge). Default '2'. */
  httpVersion?: '1.1' | '2';
  /** Require tokens from the token endpoint (OAuth2 client credentials). */
  auth?: StandinAuth;
  /** A fixed bearer token every call must carry. */
  staticToken?: string;
}

interface StandinRun {
  name: string;
  org: string;
  project: string;
  domain: string;
  task: StandinTask;
  details: ActionDetails;
  inputs: Map<string, Literal>;
  outputs: Record<string, Literal> | undefined;
  abort: AbortController;
  abortReason: string | undefined;
  /** Wakes the watchers of this run. */
  changed: Set<() => void>;
}

const FINAL = new Set([
  ActionPhase.SUCCEEDED,
  ActionPhase.FAILED,
  ActionPhase.ABORTED,
  ActionPhase.TIMED_OUT,
]);

const taskKey = (t: { project: string; domain: string; name: string; version: string }) =>
  `${t.project}/${t.domain}/${t.name}@${t.version}`;

/**
 * A Flyte control plane in this process.
 *
 * @example
 * ```ts
 * const flyte = await FlyteStandin.start({ tasks: [sayHello] });
 * const server = await createServer({ tasks: { flyte: { endpoint: flyte.url, org: 'testorg' } } });
 * ```
 */
export class FlyteStandin {
  readonly tasks = new Map<string, StandinTask>();
  readonly runs = new Map<string, StandinRun>();
  /** Every call, by method name (`CreateRun`, `WatchActionDetails`, …), in order. */
  readonly calls: string[] = [];
  /** The CreateRun requests received. */
  readonly created: CreateRunRequest[] = [];
  tokensIssued = 0;
  /** Calls refused for a missing, unknown or expired token. */
  refusedTokens = 0;
  /** Each watch stream fails (Unavailable) after sending this many messages. */
  dropWatchesAfter: number | undefined;
  /** CreateRun fails with this code (the run is not created) while set. */
  failCreate: Code | undefined;
  private readonly tokens = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly watchers = new Set<(how: 'error' | 'end') => void>();
  private server: http.Server | http2.Http2Server | undefined;
  private port = 0;
  /** The OAuth2 token endpoint: its own HTTP/1.1 server, as identity providers are elsewhere. */
  private tokenServer: http.Server | undefined;
  /** Wakes `waitFor` callers whenever a call arrives or a run changes. */
  private readonly changes = new Set<() => void>();

  private constructor(private readonly options: StandinOptions) {
    for (const task of options.tasks) this.tasks.set(taskKey(task), task);
  }

  static async start(options: StandinOptions): Promise<FlyteStandin> {
    const standin = new FlyteStandin(options);
    await standin.listen();
    if (options.auth) {
      standin.tokenServer = http.createServer((req, res) => standin.tokenEndpoint(req, res));
      standin.tokenServer.listen(0, '127.0.0.1');
      await once(standin.tokenServer, 'listening');
    }
    return standin;
  }

  /** Resolves once `check()` holds, checked now and after every call and every phase change. */
  waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onChange = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.changes.delete(onChange);
        resolve();
      };
      const timer = setTimeout(() => {
        this.changes.delete(onChange);
        reject(new Error(`the stand-in saw no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.changes.add(onChange);
    });
  }

  private changed(): void {
    for (const wake of [...this.changes]) wake();
  }

  /** Every call so far named `method`. */
  count(method: string): number {
    return this.calls.filter((c) => c === method).length;
  }

  /** `http://127.0.0.1:<port>`: the endpoint to configure. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The console URL the stand-in's endpoint implies. */
  consoleRunUrl(project: string, domain: string, name: string): string {
    return `${this.url}/v2/domain/${domain}/project/${project}/runs/${name}`;
  }

  /** Ends every open watch stream: with an Unavailable error, or cleanly before the final phase. */
  dropWatches(how: 'error' | 'end' = 'error'): number {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) w(how);
    return n;
  }

  /** Cuts every connection (TCP resets from the client's side of view). */
  resetConnections(): void {
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
  }

  /** Makes every token issued so far invalid (as if they all expired now). */
  expireTokens(): void {
    for (const token of this.tokens.keys()) this.tokens.set(token, 0);
  }

  /** Stops listening and cuts every connection: the cluster is unreachable. Runs keep going. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    this.resetConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    for (const run of this.runs.values()) run.abort.abort();
    await this.down();
    const tokens = this.tokenServer;
    if (tokens) await new Promise<void>((resolve) => tokens.close(() => resolve()));
  }

  /** The run the executor created for a wirehub run. */
  run(name: string): StandinRun | undefined {
    return this.runs.get(name);
  }

  /** Resolves once a run with this name reaches a phase. */
  async waitForPhase(name: string, phase: ActionPhase, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = this.runs.get(name);
      if (run?.details.status?.phase === phase) return;
      if (Date.now() > deadline) throw new Error(`run ${name} did not reach phase ${ActionPhase[phase]}`);
      if (!run) {
        await sleep(10);
        continue;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          run.changed.delete(wake);
          resolve();
        };
        run.changed.add(wake);
        setTimeout(wake, 50).unref();
      });
    }
  }

  private async listen(port = 0): Promise<void> {
    const handler = connectNodeAdapter({ routes: (router) => this.routes(router) });
    const server =
      this.options.httpVersion === '1.1' ? http.createServer(handler) : http2.createServer({}, handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    if (this.options.httpVersion !== '1.1') {
      (server as http2.Http2Server).on('session', (session) => {
        this.sessions.add(session);
        session.on('close', () => this.sessions.delete(session));
      });
    }
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** The OAuth2 token endpoint (client credentials, HTTP Basic). */
  private tokenEndpoint(req: http.IncomingMessage, res: http.ServerResponse) {
    const auth = this.options.auth;
    if (req.url !== '/oauth2/token' || req.method !== 'POST' || !auth) {
      res.writeHead(404);
      res.end();
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const basic = Buffer.from(
        String(req.headers.authorization ?? '').replace(/^Basic /, ''),
        'base64',
      ).toString();
      const [id, secret] = basic.split(':');
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (form.get('grant_type') !== 'client_credentials')
        return json(400, { error: 'unsupported_grant_type' });
      if (id !== auth.clientId || decodeURIComponent(secret ?? '') !== auth.clientSecret)
        return json(401, { error: 'invalid_client' });
      const token = `tok-${++this.tokensIssued}-${Math.random().toString(36).slice(2)}`;
      this.tokens.set(token, Date.now() + auth.tokenTtlMs);
      return json(200, { access_token: token, token_type: 'bearer', expires_in: auth.tokenTtlMs / 1000 });
    });
  }

  private authorize(ctx: HandlerContext, method: string): void {
    this.calls.push(method);
    this.changed();
    if (this.options.staticToken !== undefined) {
      if (ctx.requestHeader.get('authorization') !== `Bearer ${this.options.staticToken}`)
        throw new ConnectError('bad or missing token', Code.Unauthenticated);
    }
    if (!this.options.auth) return;
    const header = ctx.requestHeader.get('flyte-authorization') ?? '';
    const expires = this.tokens.get(header.replace(/^Bearer /, ''));
    if (expires === undefined || expires <= Date.now()) {
      this.refusedTokens += 1;
      throw new ConnectError(
        expires === undefined ? 'missing or unknown token' : 'token expired',
        Code.Unauthenticated,
      );
    }
  }

  private routes(router: ConnectRouter): void {
    router.service(AuthMetadataService, {
      getOAuth2Metadata: () => {
        this.calls.push('GetOAuth2Metadata');
        this.changed();
        const address = this.tokenServer?.address() as AddressInfo | undefined;
        return {
          issuer: this.url,
          tokenEndpoint: address ? `http://127.0.0.1:${address.port}/oauth2/token` : '',
          grantTypesSupported: ['client_credentials'],
        };
      },
      getPublicClientConfig: () => {
        this.calls.push('GetPublicClientConfig');
        return {
          clientId: 'flytectl',
          scopes: ['all'],
          authorizationMetadataKey: 'flyte-authorization',
          audience: '',
        };
      },
    });
    router.service(TaskService, {
      getTaskDetails: (req, ctx) => {
        this.authorize(ctx, 'GetTaskDetails');
        const id = req.taskId;
        const task = id && this.tasks.get(taskKey(id));
        if (!id || !task) throw new ConnectError(`task ${id ? taskKey(id) : '?'} not found`, Code.NotFound);
        return { details: this.detailsOf(task, id.org) };
      },
      listVersions: (req, ctx) => {
        this.authorize(ctx, 'ListVersions');
        const n = req.taskName;
        const versions = [...this.tasks.values()]
          .filter((t) => n && t.project === n.project && t.domain === n.domain && t.name === n.name)
          .reverse()
          .map((t) => ({ version: t.version }));
        return { versions: versions.slice(0, req.request?.limit || versions.length) };
      },
    });
    router.service(RunService, {
      createRun: (req, ctx) => this.createRun(req, ctx),
      abortRun: (req, ctx) => {
        this.authorize(ctx, 'AbortRun');
        const run = req.runId && this.runs.get(req.runId.name);
        if (!run) throw new ConnectError('run not found', Code.NotFound);
        run.abortReason = req.reason ?? 'aborted';
        run.abort.abort();
        return {};
      },
      getActionDetails: (req, ctx) => {
        this.authorize(ctx, 'GetActionDetails');
        return { details: this.actionOf(req.actionId?.run?.name).details };
      },
      getActionData: (req, ctx) => {
        this.authorize(ctx, 'GetActionData');
        const run = this.actionOf(req.actionId?.run?.name);
        const literals = Object.entries(run.outputs ?? {}).map(([name, value]) => ({ name, value }));
        return {
          inputs: { literals: [...run.inputs].map(([name, value]) => ({ name, value })) },
          outputs: { literals },
        };
      },
      watchActionDetails: (req, ctx) => this.watch(req.actionId?.run?.name, ctx),
    });
  }

  private actionOf(name: string | undefined): StandinRun {
    const run = name === undefined ? undefined : this.runs.get(name);
    if (!run) throw new ConnectError(`run ${name} not found`, Code.NotFound);
    return run;
  }

  private detailsOf(task: StandinTask, org: string): TaskDetails {
    const vars = (list: [string, LiteralType, ...unknown[]][]) => ({
      variables: list.map(([key, type]) => ({ key, value: { type, description: '' } })),
    });
    return create(TaskDetailsSchema, {
      taskId: { org, project: task.project, domain: task.domain, name: task.name, version: task.version },
      metadata: { shortName: task.name, shortDescription: task.description ?? '' },
      spec: {
        taskTemplate: {
          type: 'python',
          interface: { inputs: vars(task.inputs), outputs: vars(task.outputs) },
          metadata: { retries: { retries: task.retries ?? 0 } },
        },
        defaultInputs: task.inputs
          .filter(([, , d]) => d !== undefined)
          .map(([name, type, d]) => ({
            name,
            parameter: { var: { type }, behavior: { case: 'default' as const, value: d as Literal } },
          })),
      },
    });
  }

  private createRun(req: CreateRunRequest, ctx: HandlerContext) {
    this.authorize(ctx, 'CreateRun');
    if (this.failCreate !== undefined) throw new ConnectError('scripted CreateRun failure', this.failCreate);
    this.created.push(clone(CreateRunRequestSchema, req));
    if (req.id.case !== 'runId') throw new ConnectError('the stand-in wants a run_id', Code.InvalidArgument);
    if (req.task.case !== 'taskId')
      throw new ConnectError('the stand-in wants a task_id', Code.InvalidArgument);
    const id = req.id.value;
    if (!/^[a-z][a-z0-9-]{0,29}$/.test(id.name))
      throw new ConnectError(`bad run name ${id.name}`, Code.InvalidArgument);
    const task = this.tasks.get(taskKey(req.task.value));
    if (!task) throw new ConnectError(`task ${taskKey(req.task.value)} not found`, Code.NotFound);
    if (this.runs.has(id.name)) throw new ConnectError(`run ${id.name} already exists`, Code.AlreadyExists);
    const inputs = new Map<string, Literal>();
    for (const nl of req.inputWrapper.case === 'inputs' ? req.inputWrapper.value.literals : []) {
      if (nl.value) inputs.set(nl.name, nl.value);
    }
    for (const [name] of task.inputs) {
      if (!inputs.has(name)) throw new ConnectError(`input ${name} is missing`, Code.InvalidArgument);
    }
    const run: StandinRun = {
      name: id.name,
      org: id.org,
      project: id.project,
      domain: id.domain,
      task,
      details: create(ActionDetailsSchema, {
        id: { run: { org: id.org, project: id.project, domain: id.domain, name: id.name }, name: 'a0' },
        status: { phase: ActionPhase.QUEUED, attempts: 0, startTime: timestampNow() },
      }),
      inputs,
      outputs: undefined,
      abort: new AbortController(),
      abortReason: undefined,
      changed: new Set(),
    };
    this.runs.set(id.name, run);
    void this.execute(run);
    return { run: { action: { id: run.details.id, status: run.details.status } } };
  }

  /** Runs the attempts of a run as its task's behaviour says. */
  private async execute(run: StandinRun): Promise<void> {
    const max = (run.task.retries ?? 0) + 1;
    const d = run.details;
    const status = d.status as NonNullable<ActionDetails['status']>;
    const notify = () => {
      for (const wake of [...run.changed]) wake();
    };
    const setPhase = (phase: ActionPhase) => {
      const attempt = d.attempts.at(-1);
      if (attempt && attempt.phase !== phase) {
        const last = attempt.phaseTransitions.at(-1);
        if (last) last.endTime = timestampNow();
        attempt.phaseTransitions.push(create(PhaseTransitionSchema, { phase, startTime: timestampNow() }));
        attempt.phase = phase;
      }
      status.phase = phase;
      notify();
      this.changed();
    };
    for (let attempt = 1; attempt <= max; attempt += 1) {
      d.attempts.push(
        create(ActionAttemptSchema, {
          attempt,
          phase: ActionPhase.QUEUED,
          startTime: timestampNow(),
          phaseTransitions: [{ phase: ActionPhase.QUEUED, startTime: timestampNow() }],
        }),
      );
      status.attempts = attempt;
      setPhase(ActionPhase.QUEUED);
      const signal = run.abort.signal;
      const ctx: AttemptContext = {
        attempt,
        inputs: run.inputs,
        signal,
        phase: (p) => {
          if (!signal.aborted) setPhase(p);
        },
        sleep: (ms) => sleep(ms, undefined, { signal }),
      };
      let end: AttemptEnd;
      try {
        if (signal.aborted) throw new Error('aborted');
        end = await (run.task.behave ?? defaultBehaviour)(ctx);
        if (signal.aborted) throw new Error('aborted');
      } catch (err) {
        if (!signal.aborted) throw err;
        d.result = {
          case: 'abortInfo',
          value: create(AbortInfoSchema, { reason: run.abortReason ?? 'aborted' }),
        };
        setPhase(ActionPhase.ABORTED);
        status.endTime = timestampNow();
        notify();
        return;
      }
      if ('outputs' in end) {
        run.outputs = end.outputs;
        setPhase(ActionPhase.SUCCEEDED);
        status.endTime = timestampNow();
        notify();
        return;
      }
      const info = create(ErrorInfoSchema, {
        message: end.error.message,
        kind: end.error.kind === 'SYSTEM' ? ErrorInfo_Kind.SYSTEM : ErrorInfo_Kind.USER,
      });
      const phase = end.phase ?? ActionPhase.FAILED;
      const current = d.attempts.at(-1);
      if (current) current.errorInfo = info;
      if (attempt < max && phase === ActionPhase.FAILED) {
        setPhase(ActionPhase.FAILED);
        continue;
      }
      d.result = { case: 'errorInfo', value: info };
      setPhase(phase);
      status.endTime = timestampNow();
      notify();
      return;
    }
  }

  /** WatchActionDetails: the action now, then each change, until its final phase. */
  private async *watch(name: string | undefined, ctx: HandlerContext) {
    this.authorize(ctx, 'WatchActionDetails');
    const run = this.actionOf(name);
    let dropped: 'error' | 'end' | undefined;
    let wake: (() => void) | undefined;
    const onChange = () => wake?.();
    const onDrop = (how: 'error' | 'end') => {
      dropped = how;
      wake?.();
    };
    run.changed.add(onChange);
    this.watchers.add(onDrop);
    const onAbort = () => wake?.();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let sent = 0;
    let last = '';
    try {
      for (;;) {
        const snapshot = clone(ActionDetailsSchema, run.details);
        const key = JSON.stringify([
          snapshot.status?.phase,
          snapshot.status?.attempts,
          snapshot.attempts.length,
        ]);
        if (key !== last) {
          last = key;
          yield { details: snapshot };
          sent += 1;
          if (FINAL.has(snapshot.status?.phase ?? 0)) return;
          if (this.dropWatchesAfter !== undefined && sent >= this.dropWatchesAfter) {
            throw new ConnectError('scripted stream drop', Code.Unavailable);
          }
        }
        if (dropped === 'error') throw new ConnectError('stream dropped by the stand-in', Code.Unavailable);
        if (dropped === 'end') return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        if (ctx.signal.aborted) return;
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      run.changed.delete(onChange);
      this.watchers.delete(onDrop);
    }
  }
}

async function defaultBehaviour(ctx: AttemptContext): Promise<AttemptEnd> {
  starting(ctx);
  return { outputs: {} };
}
