import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { flyteRunName } from '../../src/tasks/executors/flyte/flyte-executor.js';
import { ActionPhase } from '../../src/tasks/executors/flyte/idl.js';
import { SqliteRunStore } from '../../src/tasks/runs/sqlite-run-store.js';
import { lit, read, t } from '../support/flyte-literals.js';
import {
  type AttemptContext,
  FlyteStandin,
  type StandinOptions,
  type StandinTask,
} from '../support/flyte-standin.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';
import { contiguous, TaskRunnerClient } from '../support/task-runner-client.js';

/** Opens and closes gates by name: a stepped task waits on them between its phases. */
class Gates {
  private readonly open = new Set<string>();
  private readonly waiting = new Map<string, (() => void)[]>();
  release(name: string): void {
    this.open.add(name);
    for (const wake of this.waiting.get(name) ?? []) wake();
    this.waiting.delete(name);
  }
  wait(name: string, signal: AbortSignal): Promise<void> {
    if (this.open.has(name)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiting.set(name, [...(this.waiting.get(name) ?? []), resolve]);
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  }
}

const gates = new Gates();

/** Moves one phase each time the test opens its gate (`<key>:init`, `<key>:run`, `<key>:end`). */
const stepped: StandinTask = {
  project: 'flytesnacks',
  domain: 'development',
  name: 'stepped',
  version: 'v1',
  inputs: [['key', t.str]],
  outputs: [['done', t.str]],
  async behave(ctx: AttemptContext) {
    const key = read.str(ctx.inputs.get('key'));
    await gates.wait(`${key}:init`, ctx.signal);
    ctx.phase(ActionPhase.INITIALIZING);
    await gates.wait(`${key}:run`, ctx.signal);
    ctx.phase(ActionPhase.RUNNING);
    await gates.wait(`${key}:end`, ctx.signal);
    return { outputs: { done: lit.str(key) } };
  },
};

let flyte: FlyteStandin | undefined;
const servers: RunningServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await flyte?.close();
  flyte = undefined;
});

async function setup(
  options: Partial<StandinOptions> = {},
  flyteOptions: Record<string, unknown> = {},
  dataDir = tempDir(),
) {
  flyte ??= await FlyteStandin.start({ tasks: [stepped], ...options });
  const srv = await startServer({
    dataDir,
    tasks: { flyte: { endpoint: flyte.url, org: 'testorg', ...flyteOptions } },
  });
  servers.push(srv);
  return { flyte, srv, dataDir };
}

const request = (key: string) => ({
  project: 'flytesnacks',
  domain: 'development',
  task: 'stepped',
  version: 'v1',
  inputs: { key },
});

/** What a client saw of a run: statuses in order, with no seq missing or repeated. */
function statuses(client: TaskRunnerClient, id: string): string[] {
  const updates = client.updates(id);
  expect(contiguous(updates.map((u) => u.seq))).toBe(true);
  return updates.map((u) => u.status as string);
}

describe('Flyte faults: the watch stream', () => {
  it('resumes after the stream fails, ends early or its connection is reset: no update lost or repeated', async () => {
    const { flyte, srv } = await setup();
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const id = (await client.request(request('drops'))).run_id as string;
    const name = flyteRunName(id);
    const watches = () => flyte.count('WatchActionDetails');
    await flyte.waitForPhase(name, ActionPhase.QUEUED);
    await flyte.waitFor(() => watches() >= 1, 'watch');
    flyte.dropWatches('error');
    gates.release('drops:init');
    await client.when(id, (u) => u.status === 'INITIALIZING');
    await flyte.waitFor(() => watches() >= 2, 'second watch');
    flyte.dropWatches('end');
    gates.release('drops:run');
    await client.when(id, (u) => u.status === 'RUNNING');
    await flyte.waitFor(() => watches() >= 3, 'third watch');
    flyte.resetConnections();
    gates.release('drops:end');
    expect(await client.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { done: 'drops' } });
    expect(statuses(client, id)).toEqual(['QUEUED', 'INITIALIZING', 'RUNNING', 'SUCCEEDED']);
    expect(watches()).toBeGreaterThanOrEqual(4);
    client.close();
  });

  it('relays the phases a run went through while the cluster was unreachable, each once', async () => {
    const { flyte, srv } = await setup();
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const id = (await client.request(request('away'))).run_id as string;
    await flyte.waitForPhase(flyteRunName(id), ActionPhase.QUEUED);
    await flyte.down();
    gates.release('away:init');
    gates.release('away:run');
    await flyte.waitForPhase(flyteRunName(id), ActionPhase.RUNNING);
    await flyte.up();
    await client.when(id, (u) => u.status === 'RUNNING');
    gates.release('away:end');
    await client.ended(id);
    expect(statuses(client, id)).toEqual(['QUEUED', 'INITIALIZING', 'RUNNING', 'SUCCEEDED']);
    client.close();
  });

  it('keeps up when every stream fails after one message', async () => {
    const { flyte, srv } = await setup();
    flyte.dropWatchesAfter = 1;
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const id = (await client.request(request('flaky'))).run_id as string;
    for (const step of ['init', 'run', 'end']) gates.release(`flaky:${step}`);
    expect(await client.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { done: 'flaky' } });
    expect(statuses(client, id)).toEqual(['QUEUED', 'INITIALIZING', 'RUNNING', 'SUCCEEDED']);
    client.close();
  });
});

describe('Flyte faults: auth', () => {
  const auth = { clientId: 'wirehub-app', clientSecret: 's3cr/et+=%', tokenTtlMs: 60_000 };
  const apiKey = (url: string, secret = auth.clientSecret) =>
    Buffer.from(`${url}:${auth.clientId}:${secret}:testorg`).toString('base64');

  it('exchanges an API key for a token at the advertised token endpoint, and gets a new one when it expires mid-run', async () => {
    flyte = await FlyteStandin.start({ tasks: [stepped], auth });
    const { srv } = await setup({}, { endpoint: undefined, apiKey: apiKey(flyte.url), org: undefined });
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const id = (await client.request(request('tok'))).run_id as string;
    expect(flyte.calls).toContain('GetOAuth2Metadata');
    expect(flyte.tokensIssued).toBe(1);
    expect(flyte.created.at(-1)?.id.value).toMatchObject({ org: 'testorg' });
    gates.release('tok:init');
    await client.when(id, (u) => u.status === 'INITIALIZING');
    // The token expires while the run goes on; the stream is cut (as a proxy does at expiry).
    flyte.expireTokens();
    flyte.dropWatches('error');
    gates.release('tok:run');
    gates.release('tok:end');
    expect(await client.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { done: 'tok' } });
    expect(flyte.tokensIssued).toBe(2);
    expect(statuses(client, id)).toEqual(['QUEUED', 'INITIALIZING', 'RUNNING', 'SUCCEEDED']);
    client.close();
  });

  it('renews a short-lived token before it expires, so no call is refused', async () => {
    flyte = await FlyteStandin.start({ tasks: [stepped], auth: { ...auth, tokenTtlMs: 1_000 } });
    const { srv } = await setup({}, { endpoint: undefined, apiKey: apiKey(flyte.url), org: undefined });
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const id = (await client.request(request('renew'))).run_id as string;
    gates.release('renew:init');
    gates.release('renew:run');
    await client.when(id, (u) => u.status === 'RUNNING');
    const issued = flyte.tokensIssued;
    // Past 90% of the first token's life, the next call (GetActionData at the end) uses a new one.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    gates.release('renew:end');
    expect(await client.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { done: 'renew' } });
    expect(flyte.tokensIssued).toBeGreaterThan(issued);
    expect(flyte.refusedTokens).toBe(0);
    client.close();
  });

  it('sends a fixed bearer token as it is; a token the cluster refuses is executor_unavailable', async () => {
    flyte = await FlyteStandin.start({ tasks: [stepped], staticToken: 'tok-fixed' });
    const good = await setup({}, { token: 'tok-fixed' });
    const client = await TaskRunnerClient.connect(good.srv.wsUrl);
    const id = (await client.request(request('fixed'))).run_id as string;
    for (const step of ['init', 'run', 'end']) gates.release(`fixed:${step}`);
    expect(await client.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { done: 'fixed' } });
    client.close();
    const bad = await setup({}, { token: 'tok-wrong' });
    const other = await TaskRunnerClient.connect(bad.srv.wsUrl);
    const answer = await other.request(request('refused'));
    expect(answer.error).toMatchObject({
      code: 'executor_unavailable',
      details: { code: 'Unauthenticated' },
    });
    other.close();
  });

  it('refuses runs with executor_unavailable when the token endpoint rejects the API key', async () => {
    flyte = await FlyteStandin.start({ tasks: [stepped], auth });
    const { srv } = await setup(
      {},
      { endpoint: undefined, apiKey: apiKey(flyte.url, 'wrong'), org: undefined },
    );
    const client = await TaskRunnerClient.connect(srv.wsUrl);
    const answer = await client.request(request('nope'));
    expect(answer.error?.code).toBe('executor_unavailable');
    expect(answer.error?.message).toMatch(
      /token endpoint refused the API key's credentials \(invalid_client\)/,
    );
    expect(flyte.created).toEqual([]);
    client.close();
  });
});

describe('Flyte faults: a wirehub restart while Flyte runs are in flight', () => {
  it('re-attaches to the Flyte run after a restart instead of failing it, and relays the rest once', async () => {
    const dataDir = tempDir();
    const first = await setup({}, {}, dataDir);
    const client = await TaskRunnerClient.connect(first.srv.wsUrl);
    const id = (await client.request(request('restart'))).run_id as string;
    gates.release('restart:init');
    await client.when(id, (u) => u.status === 'INITIALIZING');
    client.close();
    await first.srv.close();
    servers.splice(0);
    // While wirehub is down the run moves on.
    gates.release('restart:run');
    await first.flyte.waitForPhase(flyteRunName(id), ActionPhase.RUNNING);
    const second = await setup({}, {}, dataDir);
    const watcher = await TaskRunnerClient.connect(second.srv.wsUrl);
    watcher.send({ watch: id });
    await watcher.when(id, (u) => u.status === 'RUNNING');
    gates.release('restart:end');
    expect(await watcher.ended(id)).toMatchObject({ status: 'SUCCEEDED', outputs: { done: 'restart' } });
    expect(statuses(watcher, id)).toEqual(['QUEUED', 'INITIALIZING', 'RUNNING', 'SUCCEEDED']);
    expect(first.flyte.created.filter((c) => c.id.value?.name === flyteRunName(id))).toHaveLength(1);
    watcher.close();
  });

  it('a drain leaves Flyte runs going; the next start relays the end they reached meanwhile', async () => {
    const dataDir = tempDir();
    const first = await setup({}, {}, dataDir);
    const client = await TaskRunnerClient.connect(first.srv.wsUrl);
    const id = (await client.request(request('ended'))).run_id as string;
    gates.release('ended:init');
    await client.when(id, (u) => u.status === 'INITIALIZING');
    client.close();
    // SIGTERM's drain: the run is neither interrupted on Flyte nor failed here.
    await first.srv.server.drain(100);
    servers.splice(0);
    expect(first.flyte.run(flyteRunName(id))?.details.status?.phase).toBe(ActionPhase.INITIALIZING);
    const store = new SqliteRunStore(join(dataDir, 'runs.db'));
    await store.open();
    expect((await store.getRun(id))?.status).toBe('INITIALIZING');
    await store.close();
    for (const step of ['run', 'end']) gates.release(`ended:${step}`);
    await first.flyte.waitForPhase(flyteRunName(id), ActionPhase.SUCCEEDED);
    const second = await setup({}, {}, dataDir);
    const done = await second.srv.server.tasks?.runs.waitForEnd(id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', outputs: { done: 'ended' } });
    const updates = await second.srv.server.tasks?.runs.updates(id);
    expect(updates?.map((u) => u.status)).toEqual(['QUEUED', 'INITIALIZING', 'RUNNING', 'SUCCEEDED']);
  });

  it('creates the Flyte run of a run stored just before a crash (never created on Flyte), under its own name', async () => {
    flyte = await FlyteStandin.start({ tasks: [stepped] });
    const dataDir = tempDir();
    // What a process that died between storing the run and CreateRun leaves behind.
    const store = new SqliteRunStore(join(dataDir, 'runs.db'));
    await store.open();
    const runId = 'r-crashed-before-create';
    const name = flyteRunName(runId);
    await store.createRun(
      {
        run_id: runId,
        project: 'flytesnacks',
        domain: 'development',
        task: 'stepped',
        version: 'v1',
        inputs: { key: 'late' },
        attempt: 1,
        max_attempts: 1,
        external: {
          executor: 'flyte',
          id: { org: 'testorg', project: 'flytesnacks', domain: 'development', name },
          url: flyte.consoleRunUrl('flytesnacks', 'development', name),
        },
      },
      'queued flytesnacks/development/stepped@v1',
    );
    await store.close();
    for (const step of ['init', 'run', 'end']) gates.release(`late:${step}`);
    const { srv } = await setup({}, {}, dataDir);
    const done = await srv.server.tasks?.runs.waitForEnd(runId);
    expect(done).toMatchObject({ status: 'SUCCEEDED', outputs: { done: 'late' } });
    expect(flyte.created.map((c) => c.id.value?.name)).toEqual([name]);
  });
});
