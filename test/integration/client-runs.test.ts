import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunEvent, type RunHandle, WirehubError } from '../../src/client/index.js';
import { Clients, Gate, nextEvent } from '../support/sdk.js';
import { type RunningServer, startServer } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const clients = new Clients();
let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer({ tasks: { poolSize: 1 } });
});
afterAll(async () => {
  await srv?.close();
});
afterEach(() => clients.closeAll());

const countdown = (inputs: { n: number; delayMs: number }) =>
  ({ project: 'demo', domain: 'development', task: 'countdown', version: 'v1', inputs }) as const;

interface StoredRun {
  status: string;
  outputs?: unknown;
  updates: { seq: number; status: string; message: string; progress?: number }[];
}

async function stored(runId: string): Promise<StoredRun> {
  return (await (await fetch(`${srv.url}/api/runs/${runId}`)).json()) as StoredRun;
}

/** The handle's updates as the server stored them (seq, status, message, progress). */
function comparable(events: readonly RunEvent[]) {
  return events.map((e) => ({
    seq: e.seq,
    status: e.status,
    message: e.message,
    ...(e.progress === undefined ? {} : { progress: e.progress }),
  }));
}

async function collect(run: RunHandle): Promise<RunEvent[]> {
  const seen: RunEvent[] = [];
  for await (const update of run) seen.push(update);
  return seen;
}

describe('WirehubClient.runTask', () => {
  it('follows a run to SUCCEEDED: every update in order, then the outputs', async () => {
    const client = clients.make(srv.wsUrl);
    const run = await client.runTask(countdown({ n: 3, delayMs: 20 }));
    expect(run.id).toMatch(/^r-/);
    expect(run.url).toBe(`${srv.url}/runs/${run.id}`);
    expect(run.channel).toBe(`run:${run.id}`);
    const seen = await collect(run);
    const outcome = await run.result;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED', outputs: { counted: 3, message: 'liftoff' } });
    expect(seen.at(-1)).toBe(outcome);
    expect(seen[0]?.status).toBe('QUEUED');
    expect(run.done).toBe(true);
    expect(run.status).toBe('SUCCEEDED');
    const server = await stored(run.id);
    expect(comparable(seen)).toEqual(comparable(server.updates as RunEvent[]));
    // A second iterator replays the same updates.
    expect(await collect(run)).toEqual(seen);
  });

  it('cancel() ends a run ABORTED; cancelling again is run_finished', async () => {
    const client = clients.make(srv.wsUrl);
    const run = await client.runTask(countdown({ n: 200, delayMs: 50 }));
    for await (const update of run) {
      if (update.status === 'RUNNING' && update.progress !== undefined) break;
    }
    const cancelled = await run.cancel();
    expect(cancelled.run).toBe(run.id);
    const outcome = await run.result;
    expect(outcome).toMatchObject({ status: 'ABORTED', error: { kind: 'USER' } });
    const again = await run.cancel().catch((e: unknown) => e);
    expect(again).toBeInstanceOf(WirehubError);
    expect(again).toMatchObject({ code: 'run_finished', status: 409 });
  });

  it('rejects bad requests with typed errors: unknown_task, invalid_inputs (with the issues), unknown_run', async () => {
    const client = clients.make(srv.wsUrl);
    await expect(
      client.runTask({ project: 'demo', domain: 'development', task: 'nope', version: 'v1' }),
    ).rejects.toMatchObject({ code: 'unknown_task', status: 404 });
    const invalid = await client.runTask(countdown({ n: -1, delayMs: 0 })).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(WirehubError);
    expect(invalid).toMatchObject({ code: 'invalid_inputs', details: { issues: [{ path: ['n'] }] } });
    await expect(client.cancelRun('r-does-not-exist')).rejects.toMatchObject({ code: 'unknown_run' });
  });

  it('keeps following a run across a dropped connection: what it missed comes from the run channel', async () => {
    const proxy = await TcpProxy.start(srv.port);
    try {
      const gate = new Gate();
      const client = clients.make(proxy.wsUrl, { token: gate.pass });
      const run = await client.runTask(countdown({ n: 6, delayMs: 60 }));
      for await (const update of run) if (update.status === 'RUNNING') break;
      const before = run.updates.length;

      gate.shut();
      const dropped = nextEvent(client, 'disconnected');
      proxy.cut();
      await dropped;
      // The run ends while the client is away: every later update must come from history.
      const ended = await srv.server.tasks?.runs.waitForEnd(run.id);
      expect(ended?.status).toBe('SUCCEEDED');
      gate.open();

      const outcome = await run.result;
      expect(outcome).toMatchObject({ status: 'SUCCEEDED', outputs: { counted: 6 } });
      expect(run.updates.length).toBeGreaterThan(before);
      expect(run.updates.map((u) => u.seq)).toEqual(run.updates.map((_, i) => i + 1));
      expect(comparable(run.updates)).toEqual(comparable((await stored(run.id)).updates as RunEvent[]));
      // The ones read back from the channel carry their time.
      expect(run.updates.at(-1)?.at).toEqual(expect.any(String));
      // Done with the run: the client let go of its channel.
      await expectEventually(() => client.subscription(run.channel) === undefined);
    } finally {
      await proxy.close();
    }
  });

  it('follows a run across a drop while it is still running (replay, then live updates)', async () => {
    const proxy = await TcpProxy.start(srv.port);
    try {
      const client = clients.make(proxy.wsUrl);
      const run = await client.runTask(countdown({ n: 20, delayMs: 40 }));
      const seen: RunEvent[] = [];
      let cut = false;
      for await (const update of run) {
        seen.push(update);
        if (!cut && update.progress !== undefined && update.progress > 0) {
          cut = true;
          proxy.cut();
        }
      }
      expect(cut).toBe(true);
      expect((await run.result).status).toBe('SUCCEEDED');
      expect(comparable(seen)).toEqual(comparable((await stored(run.id)).updates as RunEvent[]));
    } finally {
      await proxy.close();
    }
  });

  it('watchRun follows a run started elsewhere from its first update', async () => {
    const res = await fetch(`${srv.url}/api/runs/demo/development/word-count/v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'to be or not to be' }),
    });
    const { run_id } = (await res.json()) as { run_id: string };
    const client = clients.make(srv.wsUrl);
    const run = client.watchRun(run_id);
    const outcome = await run.result;
    expect(outcome).toMatchObject({ status: 'SUCCEEDED', outputs: { total: 6, unique: 4 } });
    expect(comparable(run.updates)).toEqual(comparable((await stored(run_id)).updates as RunEvent[]));
  });

  it('ends a followed run with client_closed when the client closes', async () => {
    const client = clients.make(srv.wsUrl);
    const run = await client.runTask(countdown({ n: 100, delayMs: 50 }));
    await client.close();
    await expect(run.result).rejects.toMatchObject({ code: 'client_closed' });
    await expect(collect(run)).rejects.toMatchObject({ code: 'client_closed' });
    await srv.server.tasks?.runs.cancel(run.id);
  });
});

/** Waits until `check()` holds, re-checking on each turn of the event loop (bounded by the test timeout). */
async function expectEventually(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}
