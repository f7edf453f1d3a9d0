import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { WirehubError } from '../../src/client/index.js';
import { RT_SUBPROTOCOL } from '../../src/protocol/index.js';
import { Clients, nextEvent } from '../support/sdk.js';

/**
 * A scripted `/rt` peer, for what a real wirehub server does not do on demand: accept a
 * token refresh on demand, go silent, or send frames that break the protocol. `answer`
 * decides the reply to each command (undefined: no answer at all).
 */
class FakeRt {
  readonly tokens: (string | null)[] = [];
  readonly received: Record<string, unknown>[] = [];
  readonly sockets: WebSocket[] = [];
  answer: (cmd: Record<string, unknown>, socket: WebSocket) => unknown = (cmd) => ({
    op: 'reply',
    id: cmd.id,
    // The one command here whose reply has required fields.
    result: cmd.op === 'refresh' ? { unsubscribed: [] } : {},
  });

  private constructor(private readonly wss: WebSocketServer) {
    wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
      this.sockets.push(socket);
      this.tokens.push(new URL(req.url ?? '/', 'http://x').searchParams.get('access_token'));
      socket.on('message', (data) => {
        const cmd = JSON.parse(String(data)) as Record<string, unknown>;
        this.received.push(cmd);
        const reply = this.answer(cmd, socket);
        if (reply !== undefined) socket.send(typeof reply === 'string' ? reply : JSON.stringify(reply));
      });
    });
  }

  static async start(): Promise<FakeRt> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => RT_SUBPROTOCOL });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    return new FakeRt(wss);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.wss.clients) s.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

const clients = new Clients();
const fakes: FakeRt[] = [];
async function fake(): Promise<FakeRt> {
  const f = await FakeRt.start();
  fakes.push(f);
  return f;
}
afterEach(async () => {
  await clients.closeAll();
  for (const f of fakes.splice(0)) await f.close();
});

describe('WirehubClient against a scripted peer', () => {
  it('refresh(token): the next connects use the new token', async () => {
    const peer = await fake();
    const client = clients.make(peer.url, { token: 'first' });
    await client.connect();
    await client.refresh('second');
    expect(peer.received.at(-1)).toEqual({ op: 'refresh', token: 'second', id: expect.any(Number) });
    const back = nextEvent(client, 'connected');
    peer.sockets[0]?.terminate();
    await back;
    expect(peer.tokens).toEqual(['first', 'second']);
  });

  it('a refused refresh keeps the old token and rejects with the typed error', async () => {
    const peer = await fake();
    peer.answer = (cmd) =>
      cmd.op === 'refresh'
        ? { op: 'error', id: cmd.id, code: 'forbidden', message: 'another user' }
        : { op: 'reply', id: cmd.id, result: {} };
    const client = clients.make(peer.url, { token: 'first' });
    const err = await client.refresh('other').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WirehubError);
    expect(err).toMatchObject({ code: 'forbidden', status: 403, message: 'another user' });
    const back = nextEvent(client, 'connected');
    peer.sockets[0]?.terminate();
    await back;
    expect(peer.tokens).toEqual(['first', 'first']);
  });

  it('asks a token function before every connect', async () => {
    const peer = await fake();
    let n = 0;
    const client = clients.make(peer.url, {
      token: async () => {
        n += 1;
        return `t${n}`;
      },
    });
    await client.connect();
    const back = nextEvent(client, 'connected');
    peer.sockets[0]?.terminate();
    await back;
    expect(peer.tokens).toEqual(['t1', 't2']);
  });

  it('drops a connection whose pings go unanswered, and reconnects', async () => {
    const peer = await fake();
    // Answers everything on the first connection except pings: it looks alive but is not.
    peer.answer = (cmd, socket) =>
      cmd.op === 'ping' && socket === peer.sockets[0] ? undefined : { op: 'reply', id: cmd.id, result: {} };
    const client = clients.make(peer.url, { pingIntervalMs: 50, pingTimeoutMs: 400 });
    await client.connect();
    const dropped = await nextEvent(client, 'disconnected');
    expect(dropped).toMatchObject({ code: 1006, reason: 'no answer to ping' });
    await nextEvent(client, 'connected');
    expect(peer.sockets).toHaveLength(2);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
  });

  it('reports frames outside the protocol as errors and rejects malformed replies', async () => {
    const peer = await fake();
    peer.answer = (cmd) => {
      if (cmd.op === 'publish') return { op: 'reply', id: cmd.id, result: { offset: 'seven' } };
      if (cmd.op === 'presence') return 'this is not json';
      return { op: 'reply', id: cmd.id, result: {} };
    };
    // Long enough for a loaded machine to answer in time, short enough for the one that never is.
    const client = clients.make(peer.url, { commandTimeoutMs: 1000 });
    await client.connect();
    const malformed = await client.publish('chat:x', 1).catch((e: unknown) => e);
    expect(malformed).toMatchObject({ code: 'invalid_message', details: { issues: [{ path: 'offset' }] } });

    const error = nextEvent(client, 'error');
    const lost = client.presence('chat:x').catch((e: unknown) => e);
    expect(await error).toMatchObject({ code: 'invalid_json' });
    // Its answer never came in a usable form: the command times out rather than hang.
    expect(await lost).toMatchObject({ code: 'timeout' });

    const unknown = nextEvent(client, 'error');
    peer.sockets[0]?.send(JSON.stringify({ op: 'surprise' }));
    expect(await unknown).toMatchObject({ code: 'invalid_message' });
    const orphan = nextEvent(client, 'error');
    peer.sockets[0]?.send(JSON.stringify({ op: 'error', code: 'rate_limited', message: 'slow down' }));
    expect(await orphan).toMatchObject({ code: 'rate_limited', message: 'slow down' });
    expect(client.state).toBe('connected');
  });

  it('gives up after maxAttempts failed retries in a row', async () => {
    const peer = await fake();
    const url = peer.url;
    await peer.close();
    fakes.splice(0);
    const client = clients.make(url, { reconnect: { minDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 } });
    let retries = 0;
    client.on('disconnected', () => {
      retries += 1;
    });
    const err = await client.connect().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'disconnected' });
    expect(retries).toBe(3);
    expect(client.state).toBe('closed');
  });
});

describe('a subscribe whose reply comes after commandTimeoutMs', () => {
  it('is not given up: the late reply subscribes it, and nothing is left subscribed twice on the server', async () => {
    const peer = await fake();
    // The peer as a server: one subscription per channel and connection, a second is refused.
    const subscribed = new Map<WebSocket, Set<string>>();
    let holdFirst = true;
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    peer.answer = (cmd, socket) => {
      const mine = subscribed.get(socket) ?? new Set<string>();
      subscribed.set(socket, mine);
      const channel = String(cmd.channel);
      if (cmd.op === 'subscribe') {
        if (mine.has(channel)) {
          return { op: 'error', id: cmd.id, code: 'already_subscribed', message: 'already' };
        }
        mine.add(channel);
        const reply = { op: 'reply', id: cmd.id, result: { recovered: false, publications: [] } };
        if (holdFirst) {
          holdFirst = false;
          // The server completes it, but answers only after the client's command timeout.
          void held.then(() => socket.send(JSON.stringify(reply)));
          return undefined;
        }
        return reply;
      }
      if (cmd.op === 'unsubscribe') mine.delete(channel);
      return { op: 'reply', id: cmd.id, result: {} };
    };
    const client = clients.make(peer.url, { commandTimeoutMs: 100, pingIntervalMs: 0 });
    const errors: WirehubError[] = [];
    client.on('error', (err) => errors.push(err));
    await client.connect();
    const subscribing = client.subscribe('chat:late', () => {});
    const outcome = subscribing.then(
      () => 'subscribed',
      (err: WirehubError) => err.code,
    );
    // Well past the command timeout.
    const timedOut = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('waiting'), 400))]);
    release?.();
    expect(timedOut).toBe('waiting');
    expect(await outcome).toBe('subscribed');
    expect(client.subscription('chat:late')?.state).toBe('subscribed');
    expect(errors).toEqual([]);
    expect(peer.received.filter((c) => c.op === 'subscribe')).toHaveLength(1);
    // After a reconnect it renews on the new connection, once, without a refusal.
    const renewed = nextEvent(client, 'recovery');
    peer.sockets[0]?.terminate();
    expect(await renewed).toMatchObject({ channel: 'chat:late' });
    expect(client.subscription('chat:late')?.state).toBe('subscribed');
    expect(peer.received.filter((c) => c.op === 'subscribe')).toHaveLength(2);
    expect(errors).toEqual([]);
  });
});
