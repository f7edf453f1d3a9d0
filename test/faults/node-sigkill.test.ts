import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliServer, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { eventually, get } from '../support/cluster.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';

const TTL_MS = 2_400;

describe.runIf(redisAvailable())('a node SIGKILLed (no goodbye to Redis)', () => {
  let redis: RedisProcess;
  let doomed: CliServer;
  let survivor: RunningServer;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    // The doomed node is a real `wirehub serve` process, configured through the environment.
    doomed = await startCliServer([], {
      WIREHUB_REDIS_URL: redis.url,
      WIREHUB_PRESENCE_TTL: `${TTL_MS}ms`,
    });
    survivor = await startServer({ redis: redis.url, presenceTtlMs: TTL_MS });
  });
  afterAll(async () => {
    doomed?.child.kill('SIGKILL');
    await survivor?.close();
    await redis.stop();
  });

  async function members(channel: string): Promise<string[]> {
    const { body } = await get(survivor, `/api/channels/${channel}/presence`);
    return (body as { members: { client: string }[] }).members.map((m) => m.client);
  }

  it('its presence entries expire within the TTL, and /ws stops counting its clients', async () => {
    const plain1 = await TestClient.connect(`${doomed.wsUrl}/chat/room`);
    const plain2 = await TestClient.connect(`${doomed.wsUrl}/chat/room`);
    const rt = await RtClient.connect(`${doomed.wsUrl}/rt`);
    await rt.call('subscribe', { channel: 'chat:room' });
    const wsThere = await TestClient.connect(`${doomed.wsUrl}/ws`);
    await wsThere.nextJson();
    expect(await members('chat:room')).toHaveLength(3);

    const wsHere = await TestClient.connect(`${survivor.wsUrl}/ws`);
    await wsHere.nextJson();
    await wsHere.send('count');
    await wsHere.nextJson(); // echo
    expect(await wsHere.nextJson()).toMatchObject({ type: 'broadcast', connections: 2 });
    // Cluster-wide chat works before the kill.
    const here = await TestClient.connect(`${survivor.wsUrl}/chat/room`);
    await plain1.send('from the doomed node');
    expect(await here.nextText()).toBe('from the doomed node');

    const killedAt = Date.now();
    doomed.child.kill('SIGKILL');
    expect((await doomed.exited).signal).toBe('SIGKILL');
    // Nobody removed them: they are still listed until their TTL runs out (the dead node
    // refreshed them at most TTL/3 before it died, so at least 2/3 of the TTL is left)...
    expect(await members('chat:room')).toHaveLength(4);
    // ...and then they go, no later than TTL after the kill: a poll that still saw them must
    // have started before that (measured at the poll's start, so a slow poll cannot pass).
    let lastSeenAt = killedAt;
    const left = await eventually("the dead node's members to expire", async () => {
      const startedAt = Date.now();
      const now = await members('chat:room');
      if (now.length > 1) lastSeenAt = startedAt;
      return now.length === 1 && now;
    });
    // (+50 ms: the signal takes a moment to land, and the node may refresh meanwhile.)
    expect(lastSeenAt - killedAt).toBeLessThan(TTL_MS + 50);
    expect(left).toHaveLength(1);
    // The /ws member of the dead node was refreshed on its own schedule: it expires within the
    // same bound, but not necessarily in the same instant as the chat members.
    let wsLastSeenAt = killedAt;
    await eventually("the dead node's /ws member to expire", async () => {
      const startedAt = Date.now();
      const now = await members('ws');
      if (now.length > 1) wsLastSeenAt = startedAt;
      return now.length === 1;
    });
    expect(wsLastSeenAt - killedAt).toBeLessThan(TTL_MS + 50);

    await wsHere.send('count again');
    await wsHere.nextJson(); // echo
    expect(await wsHere.nextJson()).toMatchObject({ type: 'broadcast', connections: 1 });
    expect((await get(survivor, '/readyz')).status).toBe(200);
    for (const c of [plain1, plain2, wsThere]) c.ws.terminate();
    rt.ws.terminate();
    for (const c of [wsHere, here]) await c.close();
  });
});
