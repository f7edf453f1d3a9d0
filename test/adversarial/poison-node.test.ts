import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliServer, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { RtClient } from '../support/rt-client.js';
import { http } from '../support/security.js';
import { tempDir } from '../support/server.js';
import { TaskRunnerClient } from '../support/task-runner-client.js';

// Issue 12, finding 1: JSON nested ~5 000 deep (10 KB, well under the 64 KiB frame limit) was
// parsed, acked, then serialised again where nothing caught the stack overflow, and the
// process exited. Against real `wirehub serve` processes (embedded, and --redis with its own
// redis-server), every way such a publication or run can come in is tried, in a burst with
// good ones on the same channel: the bad one gets a clear error, the good ones around it are
// acked, delivered and stored, and the node is alive and healthy after each.

// Text, never a value: serialising it would overflow the test's own stack, as it did the server's.
const DEPTH = 5000;
const POISON = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;

const HISTORY = 'chat:poison';
const PLAIN = 'broadcast';
const COUNTDOWN = { project: 'demo', domain: 'development', task: 'countdown', version: 'v1' };

interface Node {
  serve: CliServer;
  /** /rt subscriber of both channels. */
  rt: RtClient;
  /** Plain subscribers: /chat/poison (history channel) and /broadcast (no history). */
  chat: TestClient;
  broadcast: TestClient;
}

const variants = [
  { name: 'embedded', redis: false },
  { name: '--redis', redis: true },
].filter((v) => !v.redis || redisAvailable());

describe.each(variants)('a poisoned publication cannot take a node down ($name)', ({ redis: withRedis }) => {
  let redis: RedisProcess | undefined;
  let node: Node;
  let publisher: RtClient;
  let tag = 0;
  /** Ids of raw frames, far from the ones RtClient.request hands out. */
  let rawId = 10_000;

  beforeAll(async () => {
    redis = withRedis ? await RedisProcess.start() : undefined;
    const serve = await startCliServer([
      '--data-dir',
      tempDir(),
      '--task-workers',
      '1',
      ...(redis ? ['--redis', redis.url] : []),
    ]);
    const rt = await RtClient.connect(`${serve.wsUrl}/rt`);
    await rt.call('subscribe', { channel: HISTORY });
    await rt.call('subscribe', { channel: PLAIN });
    const chat = await TestClient.connect(`${serve.wsUrl}/chat/poison`);
    const broadcast = await TestClient.connect(`${serve.wsUrl}/broadcast`);
    node = { serve, rt, chat, broadcast };
    publisher = await RtClient.connect(`${serve.wsUrl}/rt`);
  });

  afterAll(async () => {
    node?.serve.child.kill('SIGKILL');
    await node?.serve.exited;
    await redis?.stop();
  });

  /** Alive and healthy after the attack, and says so over HTTP. */
  async function expectHealthy(): Promise<void> {
    expect(node.serve.child.exitCode, node.serve.output()).toBeNull();
    expect((await http(`${node.serve.url}/healthz`)).status).toBe(200);
    expect((await http(`${node.serve.url}/readyz`)).status).toBe(200);
  }

  /** Sends a command frame whose `fields` are raw JSON text; resolves with its reply or error. */
  function requestRaw(client: RtClient, op: string, fields: string) {
    rawId += 1;
    const answer = client.waitReply(rawId);
    client.sendRaw(`{"op":"${op}","id":${rawId},${fields}}`);
    return answer;
  }

  /** Two good publications for this case, as the /rt subscriber and plain clients will see them. */
  function goods(): [{ good: string }, { good: string }] {
    tag += 1;
    return [{ good: `before-${tag}` }, { good: `after-${tag}` }];
  }

  /**
   * The /rt subscriber and the plain client of `channel` get exactly `datas` (in this order
   * unless `anyOrder`: concurrent publishes to a channel without history have none), and
   * nothing poisoned: the next thing each gets is what the next case sends.
   */
  async function expectDelivered(
    channel: string,
    datas: unknown[],
    o: { offsets?: number[]; anyOrder?: boolean } = {},
  ): Promise<void> {
    const pushes: unknown[] = [];
    for (const [i, data] of datas.entries()) {
      const push = await node.rt.nextPush((p) => p.op === 'message' && p.channel === channel);
      if (o.offsets) expect(push).toMatchObject({ offset: o.offsets[i] });
      pushes.push(push.op === 'message' ? push.data : undefined);
      if (!o.anyOrder) expect(push).toMatchObject({ channel, data });
    }
    const plain = channel === HISTORY ? node.chat : node.broadcast;
    const texts: unknown[] = [];
    for (const _ of datas) texts.push(await plain.next());
    const expected = datas.map((d) => JSON.stringify(d));
    if (o.anyOrder) {
      expect(pushes.map((d) => JSON.stringify(d)).sort()).toEqual([...expected].sort());
      expect([...texts].sort()).toEqual([...expected].sort());
    } else {
      expect(texts).toEqual(expected);
    }
  }

  /** History keeps the good ones at their acked offsets, and nothing at the refused one. */
  async function expectStored(good: unknown[], offsets: number[]): Promise<void> {
    const answer = await http(`${node.serve.url}/api/channels/${HISTORY}/history?limit=1000`);
    const page = JSON.parse(answer.body) as { publications: { offset: number; data: unknown }[] };
    const kept = page.publications.filter((p) => offsets.includes(p.offset));
    expect(kept.map((p) => p.data)).toEqual(good);
    expect(page.publications.some((p) => Array.isArray(p.data))).toBe(false);
  }

  it('/rt publish to a channel with history, in a burst', async () => {
    const [before, after] = goods();
    const [a, bad, b] = await Promise.all([
      publisher.request('publish', { channel: HISTORY, data: before }),
      requestRaw(publisher, 'publish', `"channel":"${HISTORY}","data":${POISON}`),
      publisher.request('publish', { channel: HISTORY, data: after }),
    ]);
    expect(bad).toMatchObject({ op: 'error', code: 'json_too_deep', details: { maxDepth: 64 } });
    expect(a).toMatchObject({ op: 'reply' });
    expect(b).toMatchObject({ op: 'reply' });
    const offsets = [a, b].map((r) => (r.op === 'reply' ? (r.result as { offset: number }).offset : -1));
    expect(offsets[1]).toBe((offsets[0] ?? 0) + 1);
    await expectDelivered(HISTORY, [before, after], { offsets });
    await expectStored([before, after], offsets);
    await expectHealthy();
  });

  it('/rt publish to broadcast, which /broadcast clients subscribe to, in a burst', async () => {
    const [before, after] = goods();
    const [a, bad, b] = await Promise.all([
      publisher.request('publish', { channel: PLAIN, data: before }),
      requestRaw(publisher, 'publish', `"channel":"${PLAIN}","data":${POISON}`),
      publisher.request('publish', { channel: PLAIN, data: after }),
    ]);
    expect(bad).toMatchObject({ op: 'error', code: 'json_too_deep' });
    expect([a.op, b.op]).toEqual(['reply', 'reply']);
    await expectDelivered(PLAIN, [before, after]);
    await expectHealthy();
  });

  it.each([
    ['with history', HISTORY],
    ['without history, to /broadcast clients', PLAIN],
  ])('POST /api/publish %s, in a burst', async (_name, channel) => {
    const [before, after] = goods();
    const post = (data: string) =>
      http(`${node.serve.url}/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"channel":"${channel}","data":${data}}`,
      });
    const [a, bad, b] = await Promise.all([
      post(JSON.stringify(before)),
      post(POISON),
      post(JSON.stringify(after)),
    ]);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({
      error: { code: 'json_too_deep', details: { maxDepth: 64 } },
    });
    expect([a.status, b.status]).toEqual([200, 200]);
    // Concurrent requests may be served in either order: deliveries follow the acks' order.
    const acked = [JSON.parse(a.body), JSON.parse(b.body)] as { offset?: number }[];
    const inOrder =
      channel === HISTORY && (acked[0]?.offset ?? 0) > (acked[1]?.offset ?? 0)
        ? [after, before]
        : [before, after];
    await expectDelivered(channel, inOrder, { anyOrder: channel !== HISTORY });
    if (channel === HISTORY) {
      const offsets = acked.map((x) => x.offset ?? -1).sort((x, y) => x - y);
      await expectStored(inOrder, offsets);
    }
    await expectHealthy();
  });

  it('a /broadcast client sending deep JSON text: carried as text to the others', async () => {
    const sender = await TestClient.connect(`${node.serve.wsUrl}/broadcast`);
    await sender.send(POISON);
    expect(await node.broadcast.next()).toBe(POISON);
    const push = await node.rt.nextPush((p) => p.op === 'message' && p.channel === PLAIN);
    expect(push).toMatchObject({ data: POISON });
    expect(await sender.next()).toBe(POISON);
    sender.ws.terminate();
    await expectHealthy();
  });

  it('/task-runner inputs, with a good run in the same burst', async () => {
    const c = await TaskRunnerClient.connect(node.serve.wsUrl);
    c.send(
      `{"project":"demo","domain":"development","task":"countdown","version":"v1","inputs":{"n":${POISON}}}`,
    );
    c.send({ ...COUNTDOWN, inputs: { n: 1, delayMs: 0 } });
    expect(await c.nextAnswer()).toMatchObject({ error: { code: 'json_too_deep' } });
    const started = await c.nextAnswer();
    expect(started).toMatchObject({ status: 'started' });
    expect((await c.ended(started.run_id as string)).status).toBe('SUCCEEDED');
    c.close();
    await expectHealthy();
  });

  it('run over /rt, with a good run in the same burst', async () => {
    const [bad, good] = await Promise.all([
      requestRaw(
        publisher,
        'run',
        `"project":"demo","domain":"development","task":"countdown","version":"v1","inputs":{"n":${POISON}}`,
      ),
      publisher.request('run', { ...COUNTDOWN, inputs: { n: 1, delayMs: 0 } }),
    ]);
    expect(bad).toMatchObject({ op: 'error', code: 'json_too_deep' });
    expect(good).toMatchObject({ op: 'reply' });
    const run = good.op === 'reply' ? (good.result as { run: string }).run : '';
    expect(
      await publisher.nextPush((p) => p.op === 'run' && p.run === run && p.status === 'SUCCEEDED'),
    ).toBeTruthy();
    await expectHealthy();
  });
});
