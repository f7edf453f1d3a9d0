import { afterEach, describe, expect, it, vi } from 'vitest';
import { type PresenceEvent, type Publication, WirehubError } from '../../src/client/index.js';
import { CloseCode } from '../../src/protocol/index.js';
import type { ServerOptions } from '../../src/server/options.js';
import { TestClient } from '../support/client.js';
import { Clients, Gate, nextEvent } from '../support/sdk.js';
import { mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer, tempDir } from '../support/server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const DAY = 86_400_000;
const namespaces: ServerOptions['namespaces'] = [
  // Quick join/leave pushes, so the test does not wait out the default 1 s debounce.
  { pattern: 'chat:*', history: { size: 100, ttlMs: DAY }, presence: true, joinLeaveDebounceMs: 20 },
  { pattern: 'small:*', history: { size: 3, ttlMs: DAY } },
];

const clients = new Clients();
const servers: RunningServer[] = [];
const proxies: TcpProxy[] = [];
const plain: TestClient[] = [];

async function start(options: ServerOptions = {}): Promise<RunningServer> {
  const srv = await startServer({ namespaces, tasks: false, ...options });
  servers.push(srv);
  return srv;
}

async function proxyTo(srv: RunningServer): Promise<TcpProxy> {
  const proxy = await TcpProxy.start(srv.port);
  proxies.push(proxy);
  return proxy;
}

afterEach(async () => {
  await clients.closeAll();
  for (const c of plain.splice(0)) c.ws.terminate();
  for (const p of proxies.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.close();
});

/** What a command rejected with (fails the test when it resolved). */
async function rejection(promise: Promise<unknown>): Promise<WirehubError> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WirehubError);
  return err as WirehubError;
}

describe('WirehubClient: channels', () => {
  it('subscribes, publishes, sees presence and join/leave, and interoperates with /chat/{room}', async () => {
    const srv = await start();
    const client = clients.make(srv.wsUrl);
    await client.connect();
    expect(client.state).toBe('connected');
    const got: Publication<string>[] = [];
    const joins: PresenceEvent[] = [];
    const leaves: PresenceEvent[] = [];
    const sub = await client.subscribe<string>('chat:lobby', (pub) => got.push(pub), {
      onJoin: (e) => joins.push(e),
      onLeave: (e) => leaves.push(e),
    });
    expect(sub.state).toBe('subscribed');
    expect(sub.position).toEqual({ epoch: expect.any(String), offset: 0 });

    const room = await TestClient.connect(`${srv.wsUrl}/chat/lobby`);
    plain.push(room);
    await vi.waitFor(() => expect(joins).toHaveLength(1));
    const members = await client.presence('chat:lobby');
    expect(members).toHaveLength(2);
    expect(members.map((m) => m.client)).toContain(joins[0]?.client);

    await room.send('hello from a plain socket');
    await vi.waitFor(() => expect(got).toHaveLength(1));
    expect(got[0]).toMatchObject({
      channel: 'chat:lobby',
      offset: 1,
      data: 'hello from a plain socket',
      from: { client: joins[0]?.client },
    });

    const published = await client.publish('chat:lobby', 'hello from the SDK');
    expect(published).toEqual({ epoch: sub.position?.epoch, offset: 2 });
    expect(await room.nextText()).toBe('hello from the SDK');
    await vi.waitFor(() => expect(got.map((p) => p.data)).toContain('hello from the SDK'));
    expect(sub.position?.offset).toBe(2);

    const history = await client.history('chat:lobby', { limit: 10 });
    expect(history.publications.map((p) => p.data)).toEqual([
      'hello from a plain socket',
      'hello from the SDK',
    ]);
    const after = await client.history('chat:lobby', { since: { epoch: history.epoch, offset: 1 } });
    expect(after).toMatchObject({ complete: true, publications: [{ offset: 2 }] });

    await room.close();
    await vi.waitFor(() => expect(leaves).toEqual([{ channel: 'chat:lobby', client: joins[0]?.client }]));

    await sub.unsubscribe();
    expect(sub.state).toBe('closed');
    expect(client.subscription('chat:lobby')).toBeUndefined();
    // The server let go: subscribing again is accepted.
    const again = await client.subscribe('chat:lobby', () => {});
    expect(again.state).toBe('subscribed');
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
  });

  it('rejects each failed command with a typed error from the catalog', async () => {
    const srv = await start();
    const client = clients.make(srv.wsUrl);
    await client.connect();

    const forbidden = await rejection(client.publish('run:nope', 'x'));
    expect(forbidden).toMatchObject({ code: 'forbidden', status: 403 });
    expect(forbidden.message).toContain('only the server publishes');

    expect(await rejection(client.subscribe('nowhere:x', () => {}))).toMatchObject({
      code: 'unknown_namespace',
      status: 400,
    });
    expect(client.subscription('nowhere:x')).toBeUndefined();
    expect(await rejection(client.history('broadcast'))).toMatchObject({ code: 'not_enabled' });
    expect(await rejection(client.history('chat:lobby', { limit: 5000 }))).toMatchObject({
      code: 'invalid_message',
      details: [{ path: 'limit' }],
    });
    // With the task runner off, run and cancel are not available.
    expect(
      await rejection(
        client.runTask({ project: 'demo', domain: 'development', task: 'countdown', version: 'v1' }),
      ),
    ).toMatchObject({ code: 'not_available', status: 501 });
    // Without auth a refresh is accepted and changes nothing: connections never expire.
    expect(await client.refresh('a-token')).toMatchObject({ unsubscribed: [] });
    // Checked before sending, with the server's own code.
    expect(await rejection(client.publish('bad channel!', 1))).toMatchObject({ code: 'bad_channel' });
    await client.subscribe('chat:a', () => {});
    expect(await rejection(client.subscribe('chat:a', () => {}))).toMatchObject({
      code: 'already_subscribed',
    });
    // The connection survived every error.
    expect(client.state).toBe('connected');
    expect(await client.publish('chat:a', 'still fine')).toMatchObject({ offset: 1 });
  });

  it('renews subscriptions after a server restart on the same data dir and replays what it missed', async () => {
    const dataDir = tempDir();
    let srv = await start({ dataDir });
    const proxy = await proxyTo(srv);
    const gate = new Gate();
    const client = clients.make(proxy.wsUrl, { token: gate.pass });
    await client.connect();
    const got: Publication[] = [];
    const recoveries: unknown[] = [];
    const sub = await client.subscribe('chat:restart', (pub) => got.push(pub), {
      onRecovery: (info) => recoveries.push(info),
    });
    await client.publish('chat:restart', 'one');
    await client.publish('chat:restart', 'two');
    await vi.waitFor(() => expect(got).toHaveLength(2));
    const before = sub.position;

    gate.shut();
    const disconnected = nextEvent(client, 'disconnected');
    // A graceful restart: the node drains (1001: come back later), then stops.
    await srv.server.drain(0);
    servers.splice(servers.indexOf(srv), 1);
    expect(await disconnected).toMatchObject({ code: 1001, error: { code: 'disconnected' } });
    expect(client.state).toBe('reconnecting');
    // A publish made while disconnected waits for the connection.
    const queued = client.publish('chat:restart', 'five');

    srv = await start({ dataDir });
    proxy.target = srv.port;
    const other = clients.make(srv.wsUrl);
    await other.publish('chat:restart', 'three');
    await other.publish('chat:restart', 'four');

    const recovered = nextEvent(client, 'recovery');
    const reconnected = nextEvent(client, 'connected');
    gate.open();
    expect(await reconnected).toEqual({ reconnect: true });
    const info = await recovered;
    expect(info).toEqual({
      channel: 'chat:restart',
      recovered: true,
      replayed: 2,
      since: before,
      position: { epoch: before?.epoch, offset: 4 },
    });
    expect(recoveries).toEqual([info]);
    // The replay came before the queued publish, which came back live.
    expect(await queued).toEqual({ epoch: before?.epoch, offset: 5 });
    await vi.waitFor(() => expect(got).toHaveLength(5));
    expect(got.map((p) => p.data)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(got.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(sub.state).toBe('subscribed');
  });

  it('says recovered: false when the missed publications were trimmed, then goes on live', async () => {
    const srv = await start();
    const proxy = await proxyTo(srv);
    const gate = new Gate();
    const client = clients.make(proxy.wsUrl, { token: gate.pass });
    const publisher = clients.make(srv.wsUrl);
    const got: unknown[] = [];
    const sub = await Promise.all([
      client.connect(),
      client.subscribe('small:trim', (pub) => got.push(pub.data)),
    ]).then(([, s]) => s);
    await publisher.publish('small:trim', 1);
    await vi.waitFor(() => expect(got).toEqual([1]));

    gate.shut();
    const disconnected = nextEvent(client, 'disconnected');
    proxy.cut();
    await disconnected;
    for (let n = 2; n <= 8; n += 1) await publisher.publish('small:trim', n);
    const recovery = nextEvent(client, 'recovery');
    gate.open();
    expect(await recovery).toEqual({
      channel: 'small:trim',
      recovered: false,
      replayed: 0,
      since: { epoch: expect.any(String), offset: 1 },
      position: { epoch: expect.any(String), offset: 8 },
    });
    expect(sub.position?.offset).toBe(8);
    await publisher.publish('small:trim', 9);
    await vi.waitFor(() => expect(got).toEqual([1, 9]));
  });

  it('reports recovered: false after a reconnect on a channel without history', async () => {
    const srv = await start();
    const proxy = await proxyTo(srv);
    const client = clients.make(proxy.wsUrl);
    await client.connect();
    const sub = await client.subscribe('broadcast', () => {});
    expect(sub.position).toBeUndefined();
    const recovery = nextEvent(client, 'recovery');
    proxy.cut();
    expect(await recovery).toEqual({ channel: 'broadcast', recovered: false, replayed: 0 });
  });

  it('fails in-flight commands with disconnected, times out unanswered ones, and rejects all after close()', async () => {
    const srv = await start();
    const proxy = await proxyTo(srv);
    const gate = new Gate();
    const client = clients.make(proxy.wsUrl, { token: gate.pass, commandTimeoutMs: 300 });
    await client.connect();
    // Sent, then the connection drops before the answer can come back.
    gate.shut();
    const inFlight = client.presence('chat:lobby');
    proxy.cut();
    expect(await rejection(inFlight)).toMatchObject({ code: 'disconnected', status: 503 });

    // Not connected now (the gate holds the reconnect): a command waits, then times out.
    const timedOut = await rejection(client.ping());
    expect(timedOut).toMatchObject({ code: 'timeout', status: 504 });

    const waiting = client.publish('chat:lobby', 'never sent');
    const closedEvent = nextEvent(client, 'closed');
    await client.close();
    expect(await closedEvent).toEqual({});
    expect(client.state).toBe('closed');
    expect(await rejection(waiting)).toMatchObject({ code: 'client_closed' });
    expect(await rejection(client.publish('chat:lobby', 'x'))).toMatchObject({ code: 'client_closed' });
    await expect(client.connect()).rejects.toMatchObject({ code: 'client_closed' });
    gate.open();
  });
});

describe('WirehubClient: close codes and auth', () => {
  it('does not reconnect after the server closes with 4001 (token expired)', async () => {
    const srv = await start({ auth: { jwtSecret: SECRET } });
    const token = await mintToken({}, { exp: Math.floor(Date.now() / 1000) + 2 });
    const client = clients.make(srv.wsUrl, { token });
    let disconnects = 0;
    client.on('disconnected', () => {
      disconnects += 1;
    });
    const closed = nextEvent(client, 'closed');
    await client.connect();
    const pending = client.subscribe('chat:x', () => {});
    await pending;
    const { error } = await closed;
    expect(error).toMatchObject({ code: 'unauthorized', details: { closeCode: CloseCode.Unauthorized } });
    expect(client.state).toBe('closed');
    expect(disconnects).toBe(0);
    expect(srv.server.metrics.endpoint('rt').accepted).toBe(1);
    expect(await rejection(client.ping())).toMatchObject({ code: 'unauthorized' });
  });

  it('refreshes its token before expiry: stays connected, reconnects with the new token, drops revoked channels', async () => {
    const srv = await start({ auth: { jwtSecret: SECRET } });
    const grants = (subscribe: string[]) => ({
      wirehub: { endpoints: ['rt'], subscribe, publish: ['chat:*'] },
    });
    const short = await mintToken(grants(['chat:*']), { exp: Math.floor(Date.now() / 1000) + 2 });
    const client = clients.make(srv.wsUrl, { token: short });
    const control = clients.make(srv.wsUrl, { token: short });
    const controlClosed = nextEvent(control, 'closed');
    await Promise.all([client.connect(), control.connect()]);
    await client.subscribe('chat:a', () => {});
    const revoked = new Promise<WirehubError>((resolve) => {
      void client.subscribe('chat:b', () => {}, { onError: resolve });
    });
    await vi.waitFor(() => expect(client.subscription('chat:b')?.state).toBe('subscribed'));
    // Same user, later expiry, and no longer chat:b.
    const longer = await mintToken(grants(['chat:a']), { exp: Math.floor(Date.now() / 1000) + 3600 });
    const result = await client.refresh(longer);
    expect(result.unsubscribed).toEqual(['chat:b']);
    expect(result.expiresAt).toBeGreaterThan(Date.now() + 3_000_000);
    expect(await revoked).toMatchObject({ code: 'forbidden' });
    expect(client.subscription('chat:b')).toBeUndefined();
    // The twin that kept the first token is closed with 4001 when it expires; this one is not.
    const { error } = await controlClosed;
    expect(error).toMatchObject({ details: { closeCode: CloseCode.Unauthorized } });
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(client.state).toBe('connected');
    // Another user's token is refused and changes nothing.
    const mallory = await mintToken({ sub: 'mallory', ...grants(['chat:*']) });
    expect(await rejection(client.refresh(mallory))).toMatchObject({
      code: 'unauthorized',
      details: { reason: 'other_user' },
    });
    expect(client.state).toBe('connected');
  });

  it('stops at a 401 upgrade refusal without a token, and connects with one', async () => {
    const srv = await start({ auth: { jwtSecret: SECRET } });
    const anonymous = clients.make(srv.wsUrl);
    const refused = await anonymous.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'unauthorized', details: { status: 401 } });
    expect(anonymous.state).toBe('closed');

    const token = await mintToken({ sub: 'alice' });
    const alice = clients.make(srv.wsUrl, { token });
    await alice.connect();
    const got: Publication[] = [];
    await alice.subscribe('chat:auth', (pub) => got.push(pub));
    await alice.publish('chat:auth', 'signed');
    await vi.waitFor(() => expect(got[0]?.from?.user).toBe('alice'));
  });
});
