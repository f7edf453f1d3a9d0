import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type CliServer, runCli, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { eventually, fastChatNamespaces, get, publishVia } from '../support/cluster.js';
import { RtClient } from '../support/rt-client.js';
import { tempDir } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';

/**
 * `wirehub serve --workers N` as users run it: the built CLI, one port shared by N worker
 * processes, no outside service. What the three-node suite does not cover: a worker that dies,
 * a drain of the whole server, and a restart of the whole server.
 */

interface Message {
  op: 'message';
  epoch: string;
  offset: number;
  data: unknown;
}

const servers: CliServer[] = [];
const clients: { close(): unknown }[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    s.child.kill('SIGKILL');
    await s.exited;
  }
});

function namespacesFile(dir: string): string {
  const file = join(dir, 'namespaces.json');
  writeFileSync(file, JSON.stringify(fastChatNamespaces));
  return file;
}

async function serveWorkers(
  n: number,
  dataDir: string,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<CliServer> {
  const server = await startCliServer(
    ['--workers', String(n), '--data-dir', dataDir, '--dashboard', 'false', ...extra],
    env,
  );
  servers.push(server);
  return server;
}

/** The pid of worker `id`, from its "worker ready" log line. */
function pidOfWorker(server: CliServer, id: string): number {
  for (const line of server.output().split('\n')) {
    if (!line.includes('"worker ready"')) continue;
    const entry = JSON.parse(line) as { worker: number; pid: number };
    if (String(entry.worker) === id) return entry.pid;
  }
  throw new Error(`no worker ${id} in the log`);
}

/**
 * Connects until clients sit on `n` different workers, and returns every client it opened.
 * Node's primary hands connections to the workers in turn; under Bun each worker listens on
 * the port itself (SO_REUSEPORT) and the kernel spreads connections by a hash, so which worker
 * the next one lands on is not known in advance.
 */
async function onEveryWorker<T extends { worker: string | undefined }>(
  n: number,
  connect: () => Promise<T>,
): Promise<T[]> {
  const opened: T[] = [];
  const seen = new Set<string | undefined>();
  while (seen.size < n && opened.length < 40) {
    const client = await connect();
    opened.push(client);
    seen.add(client.worker);
  }
  expect(seen.size, `clients on ${[...seen].join(', ')}`).toBe(n);
  return opened;
}

async function workersAlive(server: CliServer): Promise<{ alive: number; wanted: number }> {
  const res = await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } });
  return ((await res.json()) as { workers: { alive: number; wanted: number } }).workers;
}

describe('serve --workers', () => {
  it('a worker killed with SIGKILL is restarted; its clients reconnect to the others and recover what they missed; its presence goes at once', async () => {
    const dir = tempDir();
    const server = await serveWorkers(3, join(dir, 'data'), ['--namespaces', namespacesFile(dir)]);
    const first = await RtClient.connect(`${server.wsUrl}/rt`);
    clients.push(first);
    await first.call('subscribe', { channel: 'chat:crash' });
    for (const n of [1, 2]) await publishVia(server, 'chat:crash', { n });
    const seen = [(await first.nextPush()) as Message, (await first.nextPush()) as Message];
    const last = seen[1] as Message;
    const victim = first.worker as string;
    expect(victim).toBeDefined();
    expect((await get(server, '/api/channels/chat:crash/presence')).body).toMatchObject({
      members: [expect.anything()],
    });

    process.kill(pidOfWorker(server, victim), 'SIGKILL');
    expect((await first.closed).code).toBe(1006);
    // Published while the client is away: the other workers take the requests.
    for (const n of [3, 4, 5]) await publishVia(server, 'chat:crash', { n });
    // The dead worker's presence entry is gone without waiting for its TTL (60 s).
    await eventually('the dead worker’s member removed', async () => {
      const { body } = await get(server, '/api/channels/chat:crash/presence');
      return (body as { members: unknown[] }).members.length === 0;
    });
    // And the primary starts a new worker in its place.
    await eventually('three workers again', async () => (await workersAlive(server)).alive === 3, 20_000);
    expect(server.output()).toMatch(/worker exited: restarting it/);
    const metrics = String((await get(server, '/metrics')).body);
    expect(metrics).toMatch(/^wirehub_worker_restarts_total 1$/m);
    // The new worker takes connections on the same port (under Bun it binds the port itself).
    clients.push(...(await onEveryWorker(3, () => RtClient.connect(`${server.wsUrl}/rt`))));

    const again = await RtClient.connect(`${server.wsUrl}/rt`);
    clients.push(again);
    expect(again.worker).not.toBe(victim);
    const result = await again.call<{ recovered: boolean; offset: number; publications: Message[] }>(
      'subscribe',
      { channel: 'chat:crash', since: { epoch: last.epoch, offset: last.offset } },
    );
    expect(result.recovered).toBe(true);
    expect(result.offset).toBe(5);
    expect(result.publications.map((p) => p.data)).toEqual([{ n: 3 }, { n: 4 }, { n: 5 }]);
  }, 60_000);

  it('a worker whose link to the primary breaks does not live on without it: it ends, its clients go to the others, a new one starts', async () => {
    const hook = fileURLToPath(new URL('../fixtures/hooks/link-breaker.mjs', import.meta.url));
    const dir = tempDir();
    const server = await serveWorkers(2, join(dir, 'data'), [], {
      NODE_OPTIONS: `--import=${hook}`,
      BUN_OPTIONS: `--preload=${hook}`,
    });
    const first = await RtClient.connect(`${server.wsUrl}/rt`);
    clients.push(first);
    await first.call('subscribe', { channel: 'chat:link' });
    const victim = first.worker as string;

    process.kill(pidOfWorker(server, victim), 'SIGUSR2');
    // Closed at once (1006), not left on a worker that can reach no store.
    expect((await first.closed).code).toBe(1006);
    await eventually('the worker to exit and be restarted', async () =>
      /worker exited: restarting it/.test(server.output()),
    );
    expect(server.output()).toMatch(/the link to the primary broke: this worker exits/);
    await eventually('two workers again', async () => (await workersAlive(server)).alive === 2, 20_000);

    // The server works on every worker afterwards: a publication reaches subscribers on both.
    // One client on each worker (the primary hands a connection to whichever worker is free).
    const again = new Map<string, RtClient>();
    for (let tries = 0; again.size < 2 && tries < 20; tries += 1) {
      const client = await RtClient.connect(`${server.wsUrl}/rt`);
      clients.push(client);
      if (!again.has(client.worker as string)) again.set(client.worker as string, client);
    }
    expect(again.size).toBe(2);
    for (const c of again.values()) await c.call('subscribe', { channel: 'chat:link' });
    await publishVia(server, 'chat:link', { after: true });
    for (const c of again.values()) expect(((await c.nextPush()) as Message).data).toEqual({ after: true });
  }, 60_000);

  it('SIGTERM drains every worker: each client gets 1001, then the primary exits 0', async () => {
    const server = await serveWorkers(3, join(tempDir(), 'data'), ['--drain-window', '1s']);
    const connected = await onEveryWorker(3, () => TestClient.connect(`${server.wsUrl}/echo`));
    clients.push(...connected);
    server.child.kill('SIGTERM');
    const closes = await Promise.all(connected.map((c) => c.closed));
    expect(closes.map((c) => c.code)).toEqual(Array(connected.length).fill(1001));
    const exit = await server.exited;
    expect(exit, server.output().slice(-4000)).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('a restart of the whole server keeps channel history (same epoch) and runs', async () => {
    const data = join(tempDir(), 'data');
    const before = await serveWorkers(2, data);
    const one = await publishVia(before, 'chat:kept', 'one');
    await publishVia(before, 'chat:kept', 'two');
    const started = await fetch(`${before.url}/api/runs/demo/development/countdown/v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 2, delayMs: 10 }),
    });
    expect(started.status).toBe(202);
    const { run_id: runId } = (await started.json()) as { run_id: string };
    // Whichever worker a request lands on sees the run end (the primary ran it).
    await eventually('the run to succeed', async () => {
      const { body } = await get(before, `/api/runs/${runId}`);
      return (body as { status: string }).status === 'SUCCEEDED';
    });
    before.child.kill('SIGTERM');
    expect(await before.exited, before.output().slice(-4000)).toEqual({ code: 0, signal: null });

    const after = await serveWorkers(2, data);
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(`${after.url}/api/channels/chat:kept/history`, {
        headers: { connection: 'close' },
      });
      expect(await res.json()).toMatchObject({
        epoch: one.epoch,
        offset: 2,
        publications: [{ data: 'one' }, { data: 'two' }],
      });
    }
    expect((await get(after, `/api/runs/${runId}`)).body).toMatchObject({
      run_id: runId,
      status: 'SUCCEEDED',
    });
    const page = await fetch(`${after.url}/runs/${runId}`);
    expect(page.status).toBe(200);
  }, 60_000);

  it('/task-runner on any worker: a run streams every update and ends exactly once; another worker aborts one', async () => {
    const server = await serveWorkers(2, join(tempDir(), 'data'));
    const a = await TaskRunnerClient.connect(server.wsUrl);
    const b = await TaskRunnerClient.connect(server.wsUrl);
    clients.push({ close: () => a.ws.close() }, { close: () => b.ws.close() });
    // Both workers answer (a fresh connection per request).
    await onEveryWorker(2, async () => {
      const res = await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } });
      await res.arrayBuffer();
      return { worker: res.headers.get('x-wirehub-worker') ?? undefined };
    });

    const done = await a.start('countdown', { n: 3, delayMs: 20 });
    expect(await a.ended(done)).toMatchObject({ run_id: done, status: 'SUCCEEDED' });
    const { body } = await get(server, `/api/runs/${done}`);
    expect(body).toMatchObject({ status: 'SUCCEEDED' });
    const terminal = a.frames.filter(
      (f) => f.run_id === done && ['SUCCEEDED', 'FAILED', 'ABORTED'].includes(String(f.status)),
    );
    expect(terminal).toHaveLength(1);

    const long = await b.start('countdown', { n: 100, delayMs: 200 });
    await b.when(long, (u) => u.status === 'RUNNING');
    const abort = await fetch(`${server.url}/api/runs/${long}/abort`, {
      method: 'POST',
      headers: { connection: 'close' },
    });
    expect(abort.status).toBeLessThan(300);
    expect(await b.ended(long)).toMatchObject({ run_id: long, status: 'ABORTED' });
  }, 60_000);

  it('--workers takes a whole number from 1, or auto', async () => {
    for (const bad of ['0', 'two', '-1']) {
      const { code, stderr } = await runCli(['serve', '--port', '0', '--workers', bad]);
      expect(code).toBe(2);
      expect(stderr).toMatch(/--workers/);
    }
  });
});
