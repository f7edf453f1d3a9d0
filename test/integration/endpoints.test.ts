import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestClient } from '../support/client.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer;
const clients: TestClient[] = [];

async function connect(path: string): Promise<TestClient> {
  const c = await TestClient.connect(`${srv.wsUrl}${path}`);
  clients.push(c);
  return c;
}

beforeEach(async () => {
  srv = await startServer();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await srv.close();
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('/echo', () => {
  it('answers each text message with "Echo: <text>"', async () => {
    const c = await connect('/echo');
    await c.send('Hello, Server!');
    expect(await c.next()).toBe('Echo: Hello, Server!');
    await c.send('ünïcødé ✓');
    expect(await c.next()).toBe('Echo: ünïcødé ✓');
    await c.send('');
    expect(await c.next()).toBe('Echo: ');
  });

  it('echoes binary frames unchanged, as binary', async () => {
    const c = await connect('/echo');
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    await c.send(bytes, { binary: true });
    const got = await c.next();
    expect(Buffer.isBuffer(got)).toBe(true);
    expect(Buffer.compare(got as Buffer, bytes)).toBe(0);
  });

  it('keeps order under many messages in flight', async () => {
    const c = await connect('/echo');
    for (let i = 0; i < 500; i += 1) c.ws.send(`m${i}`);
    for (let i = 0; i < 500; i += 1) expect(await c.next()).toBe(`Echo: m${i}`);
  });
});

describe('/broadcast', () => {
  it('sends every message to every client, the sender included', async () => {
    const [a, b, c] = [await connect('/broadcast'), await connect('/broadcast'), await connect('/broadcast')];
    await a.send('hello all');
    for (const x of [a, b, c]) expect(await x.next()).toBe('hello all');
    await c.send('second');
    for (const x of [a, b, c]) expect(await x.next()).toBe('second');
  });
});

describe('/chat/{room}', () => {
  it('reaches the other clients of the room, not the sender, and not other rooms', async () => {
    const alice = await connect('/chat/lobby');
    const bob = await connect('/chat/lobby');
    const carol = await connect('/chat/lobby');
    const outsider = await connect('/chat/kitchen');
    await alice.send('hi from alice');
    expect(await bob.next()).toBe('hi from alice');
    expect(await carol.next()).toBe('hi from alice');
    await outsider.send('kitchen only');
    await bob.send('hi from bob');
    // alice's first message is bob's: she never got her own, nor the kitchen's.
    expect(await alice.next()).toBe('hi from bob');
    expect(await carol.next()).toBe('hi from bob');
    expect(alice.messages).toEqual([]);
    expect(carol.messages).toEqual([]);
  });

  it('accepts the full room alphabet', async () => {
    const a = await connect('/chat/Room_1.b-2');
    const b = await connect('/chat/Room_1.b-2');
    await a.send('x');
    expect(await b.next()).toBe('x');
  });
});

describe('/stream', () => {
  it('sends {timestamp, value} samples at the requested interval', async () => {
    const c = await connect('/stream?interval=50');
    const arrivals: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const sample = JSON.parse((await c.next()) as string) as Record<string, unknown>;
      arrivals.push(Date.now());
      expect(Object.keys(sample)).toEqual(['timestamp', 'value']);
      expect(sample.timestamp).toMatch(ISO);
      expect(typeof sample.value).toBe('number');
      expect(sample.value as number).toBeGreaterThanOrEqual(0);
      expect(sample.value as number).toBeLessThan(1);
    }
    // Seven gaps after the first (immediate) sample: on average about 50 ms each.
    const mean = ((arrivals[7] ?? 0) - (arrivals[1] ?? 0)) / 6;
    expect(mean).toBeGreaterThan(35);
    expect(mean).toBeLessThan(120);
  });

  it('sends the first sample at once and then once a second by default', async () => {
    const c = await connect('/stream');
    const first = JSON.parse((await c.next(500)) as string) as { value: number };
    expect(typeof first.value).toBe('number');
  });
});

describe('/ws (the basic app)', () => {
  it('welcomes, echoes to the sender, broadcasts with the count, and announces leaves', async () => {
    const a = await connect('/ws');
    const welcome = await a.nextJson();
    expect(welcome).toEqual({
      type: 'system',
      message: 'Welcome! You are connected.',
      timestamp: expect.any(String),
    });
    expect(welcome.timestamp).toMatch(ISO);

    const b = await connect('/ws');
    expect((await b.nextJson()).type).toBe('system');

    await a.send('Hello, Server!');
    const echo = await a.nextJson();
    expect(echo).toEqual({
      type: 'echo',
      message: 'Echo: Hello, Server!',
      timestamp: expect.stringMatching(ISO),
    });
    const toA = await a.nextJson();
    const toB = await b.nextJson();
    for (const m of [toA, toB]) {
      expect(m).toEqual({
        type: 'broadcast',
        message: 'Broadcast: Hello, Server!',
        timestamp: expect.stringMatching(ISO),
        connections: 2,
      });
    }

    const c = await connect('/ws');
    await c.nextJson();
    await c.send('three');
    expect((await c.nextJson()).type).toBe('echo');
    for (const x of [a, b, c])
      expect(await x.nextJson()).toMatchObject({ type: 'broadcast', connections: 3 });

    await c.close();
    for (const x of [a, b]) {
      expect(await x.nextJson()).toEqual({
        type: 'system',
        message: 'A client disconnected',
        connections: 2,
      });
    }
  });

  it('keeps echo before broadcast for each of several quick messages', async () => {
    const a = await connect('/ws');
    await a.nextJson();
    for (const t of ['1', '2', '3']) a.ws.send(t);
    const types: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const m = await a.nextJson<{ type: string; message: string }>();
      types.push(`${m.type}:${m.message}`);
    }
    expect(types).toEqual([
      'echo:Echo: 1',
      'broadcast:Broadcast: 1',
      'echo:Echo: 2',
      'broadcast:Broadcast: 2',
      'echo:Echo: 3',
      'broadcast:Broadcast: 3',
    ]);
  });
});
