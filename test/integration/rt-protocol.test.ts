import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RtClient } from '../support/rt-client.js';
import { type RunningServer, startServer } from '../support/server.js';

let srv: RunningServer | undefined;
const clients: RtClient[] = [];

async function start(options: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  srv = await startServer(options);
  return srv;
}

async function rt(protocols?: string | string[]): Promise<RtClient> {
  if (!srv) throw new Error('no server');
  const c = await RtClient.connect(`${srv.wsUrl}/rt`, protocols);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await srv?.close();
  srv = undefined;
});

describe('/rt handshake', () => {
  it('selects the wirehub.v1 subprotocol', async () => {
    await start();
    const c = await rt(['other', 'wirehub.v1']);
    expect(c.protocol).toBe('wirehub.v1');
    expect(await c.call('ping')).toEqual({});
  });

  it('accepts a client that offers no subprotocol', async () => {
    await start();
    const c = await rt([]);
    expect(c.protocol).toBe('');
    expect(await c.call('ping')).toEqual({});
  });

  it('refuses a client that offers only other subprotocols, with a JSON reason', async () => {
    const s = await start();
    const viaCtor = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`${s.wsUrl}/rt`, 'mqtt');
      ws.once('open', () => reject(new Error('accepted')));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('error', () => {});
    });
    expect(viaCtor.status).toBe(400);
    expect(JSON.parse(viaCtor.body).error.code).toBe('bad_request');
    expect(JSON.parse(viaCtor.body).error.message).toContain('wirehub.v1');
  });
});

describe('/rt commands', () => {
  it('answers every command with exactly one reply or error carrying its id', async () => {
    await start();
    const c = await rt();
    const commands: Record<string, unknown>[] = [
      { op: 'subscribe', channel: 'chat:lobby' },
      { op: 'subscribe', channel: 'chat:lobby' },
      { op: 'publish', channel: 'chat:lobby', data: 'hello' },
      { op: 'publish', channel: 'run:r-1', data: 'forged' },
      { op: 'history', channel: 'chat:lobby', limit: 5 },
      { op: 'history', channel: 'broadcast' },
      { op: 'presence', channel: 'chat:lobby' },
      { op: 'presence', channel: 'broadcast' },
      { op: 'unsubscribe', channel: 'chat:lobby' },
      { op: 'unsubscribe', channel: 'chat:lobby' },
      { op: 'run', project: 'p', domain: 'd', task: 't', version: 'v', inputs: {} },
      { op: 'cancel', run: 'r-1' },
      { op: 'refresh', token: 'abc' },
      { op: 'nope' },
      { op: 'subscribe' },
      { op: 'subscribe', channel: 'no spaces' },
      { op: 'subscribe', channel: 'nowhere:x' },
      { op: 'publish', channel: 'chat:lobby' },
      { op: 'ping', extra: true },
      { op: 'ping' },
    ];
    // Ids 1001…: apart from the ids RtClient itself hands out.
    const ids = commands.map((_, i) => 1001 + i);
    commands.forEach((cmd, i) => {
      c.sendRaw(JSON.stringify({ ...cmd, id: ids[i] }));
    });
    const answers = await Promise.all(ids.map((id) => c.waitReply(id)));
    // One more round trip: nothing else with these ids may have arrived meanwhile.
    await c.call('ping');
    const byId = new Map<number, number>();
    for (const f of c.frames) {
      if ((f.op === 'reply' || f.op === 'error') && f.id !== undefined)
        byId.set(f.id, (byId.get(f.id) ?? 0) + 1);
    }
    for (const id of ids) expect(byId.get(id), `command ${id}`).toBe(1);
    const codes = answers.map((a) => (a.op === 'error' ? a.code : 'ok'));
    expect(codes).toEqual([
      'ok',
      'already_subscribed',
      'ok',
      'forbidden',
      'ok',
      'not_enabled',
      'ok',
      'not_enabled',
      'ok',
      'not_subscribed',
      'unknown_task',
      'unknown_run',
      // Auth is off: the token is ignored, as on an upgrade, and the connection never expires.
      'ok',
      'unknown_op',
      'invalid_message',
      'bad_channel',
      'unknown_namespace',
      'invalid_message',
      'invalid_message',
      'ok',
    ]);
    // Commands run in order: the reply ids come back in the order they were sent.
    const order = c.frames.filter((f) => f.op === 'reply' || f.op === 'error').map((f) => f.id);
    expect(order.slice(0, commands.length)).toEqual(ids);
  });

  it('answers frames that are not commands with an error and keeps the socket open', async () => {
    await start();
    const c = await rt();
    c.sendRaw('not json');
    expect(await c.nextOrphan()).toMatchObject({ op: 'error', code: 'invalid_json' });
    c.sendRaw('[1,2]');
    expect(await c.nextOrphan()).toMatchObject({ op: 'error', code: 'invalid_message' });
    c.sendRaw('{"id":5}');
    expect(await c.waitReply(5)).toMatchObject({ op: 'error', id: 5, code: 'invalid_message' });
    c.sendRaw('{"op":"ping","id":-1}');
    expect(await c.nextOrphan()).toMatchObject({ op: 'error', code: 'invalid_message' });
    c.sendRaw('{"op":"ping","id":1.5}');
    expect(await c.nextOrphan()).toMatchObject({ op: 'error', code: 'invalid_message' });
    c.sendRaw('{"op":"ping"}');
    const missingId = await c.nextOrphan();
    expect(missingId).toMatchObject({ op: 'error', code: 'invalid_message' });
    expect(missingId.op === 'error' && JSON.stringify(missingId.details)).toContain('"path":"id"');
    expect(await c.call('ping')).toEqual({});
  });

  it('explains a bad shape field by field', async () => {
    await start();
    const c = await rt();
    const answer = await c.request('history', {
      channel: 'chat:lobby',
      limit: 0,
      since: { epoch: 'e', offset: -1 },
    });
    expect(answer.op).toBe('error');
    if (answer.op !== 'error') return;
    expect(answer.code).toBe('invalid_message');
    const paths = (answer.details as { path: string }[]).map((d) => d.path).sort();
    expect(paths).toEqual(['limit', 'since.offset']);
  });

  it('publishes, replies with the position, and pushes to subscribers including the publisher', async () => {
    await start();
    const a = await rt();
    const b = await rt();
    const subA = await a.call<{ epoch: string; offset: number; publications: unknown[] }>('subscribe', {
      channel: 'chat:room1',
    });
    expect(subA).toEqual({ epoch: expect.any(String), offset: 0, publications: [] });
    await b.call('subscribe', { channel: 'chat:room1' });
    const published = await b.call('publish', { channel: 'chat:room1', data: { text: 'hi' } });
    expect(published).toEqual({ epoch: subA.epoch, offset: 1 });
    for (const c of [a, b]) {
      expect(await c.nextPush((p) => p.op === 'message')).toEqual({
        op: 'message',
        channel: 'chat:room1',
        epoch: subA.epoch,
        offset: 1,
        data: { text: 'hi' },
        from: { client: expect.stringMatching(/^c-/) },
      });
    }
  });

  it('answers a burst of commands in command order while its publishes share a commit', async () => {
    await start();
    const c = await rt();
    // Sent at once, unanswered: the server reads them in a go, the publishes take their offsets in order.
    const frames = [
      ...Array.from({ length: 10 }, (_, i) => ({ op: 'publish', id: i + 1, channel: 'chat:burst', data: i })),
      { op: 'publish', id: 11, channel: 'run:x', data: 'server only' },
      { op: 'ping', id: 12 },
      { op: 'history', id: 13, channel: 'chat:burst' },
      { op: 'publish', id: 14, channel: 'chat:burst', data: 'last' },
    ];
    const answers = frames.map((f) => c.waitReply(f.id));
    for (const f of frames) c.sendRaw(JSON.stringify(f));
    const replies = await Promise.all(answers);
    const order: number[] = [];
    c.frames.forEach((f) => {
      if ((f.op === 'reply' || f.op === 'error') && f.id !== undefined) order.push(f.id);
    });
    expect(order).toEqual(frames.map((f) => f.id));
    const offsets = replies
      .slice(0, 10)
      .map((r) => (r.op === 'reply' ? (r.result as { offset: number }).offset : 0));
    expect(offsets).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(replies[10]).toMatchObject({ op: 'error', code: 'forbidden' });
    // A command after the publishes sees them all.
    expect(replies[12]).toMatchObject({ op: 'reply', result: { offset: 10 } });
    expect(replies[13]).toMatchObject({ op: 'reply', result: { offset: 11 } });
  });

  it('delivers channels without history with no offset', async () => {
    await start();
    const a = await rt();
    expect(await a.call('subscribe', { channel: 'broadcast' })).toEqual({ publications: [] });
    expect(await a.call('publish', { channel: 'broadcast', data: 7 })).toEqual({});
    expect(await a.nextPush()).toEqual({
      op: 'message',
      channel: 'broadcast',
      data: 7,
      from: expect.anything(),
    });
    expect(
      await a.call('subscribe', { channel: 'stream:prices', since: { epoch: 'e-x', offset: 3 } }),
    ).toEqual({
      recovered: false,
      publications: [],
    });
  });

  it('pages history forward with since and limit', async () => {
    await start();
    const a = await rt();
    for (let i = 1; i <= 5; i += 1) await a.call('publish', { channel: 'chat:h', data: i });
    const last = await a.call<{ epoch: string; publications: { offset: number }[] }>('history', {
      channel: 'chat:h',
      limit: 2,
    });
    expect(last.publications.map((p) => p.offset)).toEqual([4, 5]);
    const page = await a.call<{ complete: boolean; publications: { offset: number; data: number }[] }>(
      'history',
      {
        channel: 'chat:h',
        since: { epoch: last.epoch, offset: 1 },
        limit: 2,
      },
    );
    expect(page.complete).toBe(true);
    expect(page.publications.map((p) => p.data)).toEqual([2, 3]);
  });
});

describe('/rt limits', () => {
  it('caps the channels of one connection, and frees a slot on unsubscribe', async () => {
    await start({ maxChannelsPerConnection: 3 });
    const c = await rt();
    for (const ch of ['chat:a', 'chat:b', 'broadcast']) await c.call('subscribe', { channel: ch });
    const over = await c.request('subscribe', { channel: 'chat:d' });
    expect(over).toMatchObject({ op: 'error', code: 'too_many_channels', details: { max: 3 } });
    await c.call('unsubscribe', { channel: 'chat:a' });
    expect(await c.call('subscribe', { channel: 'chat:d' })).toMatchObject({ offset: 0 });
  });

  it('refuses over-long and malformed channel names', async () => {
    await start();
    const c = await rt();
    for (const channel of [
      '',
      'chat:',
      ':x',
      'chat:a b',
      'chat:ü',
      `chat:${'x'.repeat(200)}`,
      '$presence:chat:a',
      'a/b',
    ]) {
      const answer = await c.request('subscribe', { channel });
      expect(answer, channel).toMatchObject({ op: 'error', code: 'bad_channel' });
    }
    expect(await c.request('subscribe', { channel: 42 })).toMatchObject({
      op: 'error',
      code: 'invalid_message',
    });
  });

  it('closes with 1009 on a frame over the max payload', async () => {
    await start({ maxPayloadBytes: 1024 });
    const c = await rt();
    c.sendRaw(JSON.stringify({ op: 'publish', id: 1, channel: 'chat:a', data: 'x'.repeat(2000) }));
    expect((await c.closed).code).toBe(1009);
  });

  it('closes with 1003 on a binary frame', async () => {
    await start();
    const c = await rt();
    c.ws.send(Buffer.from('{"op":"ping","id":1}'), { binary: true });
    expect((await c.closed).code).toBe(1003);
  });
});
