import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { eventually, fastChatNamespaces, publishVia } from '../support/cluster.js';
import { mintToken, SECRET } from '../support/security.js';
import { type RunningServer, startServer } from '../support/server.js';

type Cli = Awaited<ReturnType<typeof runCli>>;
const lines = (out: string): string[] => out.split('\n').filter((l) => l !== '');

describe('wirehub connect', () => {
  let srv: RunningServer;
  const connect = (args: string[], input?: string): Promise<Cli> =>
    runCli(['connect', '--url', srv.url, ...args], {}, input);

  beforeAll(async () => {
    srv = await startServer({ namespaces: fastChatNamespaces });
  });
  afterAll(async () => {
    await srv.close();
  });

  it('sends stdin lines and prints the answers; the end of stdin closes normally after them', async () => {
    const out = await connect(['/echo'], 'first line\nsecond line\n');
    expect(out.code).toBe(0);
    expect(lines(out.stdout)).toEqual(['Echo: first line', 'Echo: second line']);
    expect(out.stderr).toContain(`connected to ${srv.wsUrl}/echo`);
  });

  it('prints the welcome of /ws too (it comes with the handshake), and stops at --count', async () => {
    const out = await connect(['/ws', '--send', 'hi', '--count', '3']);
    expect(out.code).toBe(0);
    expect(lines(out.stdout).map((l) => JSON.parse(l) as { type: string; message: string })).toMatchObject([
      { type: 'system', message: 'Welcome! You are connected.' },
      { type: 'echo', message: 'Echo: hi' },
      { type: 'broadcast', message: 'Broadcast: hi' },
    ]);
  });

  it('chats with another client in a room', async () => {
    const other = await TestClient.connect(`${srv.wsUrl}/chat/cli-room`);
    const cli = connect(['/chat/cli-room', '--send', 'from the cli', '--count', '1', '--timeout', '20s']);
    expect(await other.nextText(20_000)).toBe('from the cli');
    await other.send('from the browser');
    const out = await cli;
    expect(out.code).toBe(0);
    expect(lines(out.stdout)).toEqual(['from the browser']);
    other.ws.close();
  });

  it('subscribes on /rt, replays from --since, and prints each publication as a JSON line', async () => {
    const first = await publishVia(srv, 'chat:cli-rt', { n: 1 });
    await publishVia(srv, 'chat:cli-rt', { n: 2 });
    await publishVia(srv, 'chat:cli-rt', 'three');
    const out = await connect([
      '--subscribe',
      'chat:cli-rt',
      '--since',
      `${first.epoch}:${first.offset}`,
      '--count',
      '2',
      '--timeout',
      '20s',
    ]);
    expect(out.code).toBe(0);
    expect(lines(out.stdout).map((l) => JSON.parse(l) as unknown)).toMatchObject([
      { channel: 'chat:cli-rt', offset: 2, data: { n: 2 } },
      { channel: 'chat:cli-rt', offset: 3, data: 'three' },
    ]);
    expect(out.stderr).toContain('chat:cli-rt: recovered 2 missed publications');
  });

  it('publishes stdin lines on /rt with --publish: JSON when they parse, text otherwise', async () => {
    const listener = await TestClient.connect(`${srv.wsUrl}/chat/cli-pub`);
    const out = await connect(['--publish', 'chat:cli-pub'], '{"n":1}\nplain words\n');
    expect(out.code).toBe(0);
    // /chat/{room} and chat:{room} are one channel: the plain client gets the data as text.
    expect(await listener.nextText()).toBe('{"n":1}');
    expect(await listener.nextText()).toBe('plain words');
    listener.ws.close();
  });

  it('exits 1 with the reason when the server refuses, or closes with anything but 1000', async () => {
    const missing = await connect(['/nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('(HTTP 404): not_found');
    const unreachable = await runCli(['connect', '--url', 'http://127.0.0.1:1', '/ws']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach ws://127.0.0.1:1/ws');
    const short = await connect(['/echo', '--count', '5', '--timeout', '300ms'], '');
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('timed out after 300 ms with 0 of 5 messages');
  });

  it('exits 2 on usage errors', async () => {
    for (const args of [
      ['foo'],
      ['--since', 'e-1:2'],
      ['--subscribe', 'a,b', '--since', 'e-1:2'],
      ['--count', '0'],
    ]) {
      const out = await connect(args);
      expect(out.code, args.join(' ')).toBe(2);
      expect(out.stderr, args.join(' ')).toMatch(/error/);
    }
  });
});

describe('wirehub connect to a server with auth, and one that drains', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer({ auth: { jwtSecret: SECRET } });
  });
  afterAll(async () => {
    await srv.close();
  });

  it('needs --token (or WIREHUB_TOKEN): 401 without, works with, on plain endpoints and /rt', async () => {
    const refused = await runCli(['connect', '--url', srv.url, '/echo']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('(HTTP 401)');
    const token = await mintToken({ sub: 'alice' });
    const plain = await runCli(['connect', '--url', srv.url, '/echo'], { WIREHUB_TOKEN: token }, 'hello\n');
    expect(plain).toMatchObject({ code: 0, stdout: 'Echo: hello\n' });
    const rt = await runCli(
      [
        'connect',
        '--url',
        srv.url,
        '--token',
        token,
        '--subscribe',
        'chat:auth',
        '--publish',
        'chat:auth',
        '--count',
        '1',
      ],
      {},
      'to myself\n',
    );
    expect(rt.code).toBe(0);
    expect(JSON.parse(lines(rt.stdout)[0] ?? '{}')).toMatchObject({
      channel: 'chat:auth',
      data: 'to myself',
    });
  });

  it('reports a drain (1001) and exits 1', async () => {
    const token = await mintToken({ sub: 'bob' });
    const cli = runCli(['connect', '--url', srv.url, '--token', token, '/ws', '--count', '100']);
    await eventually('the CLI to be connected', async () => srv.server.connectionCount === 1);
    await srv.server.drain(0);
    const out = await cli;
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('closed by the server: 1001');
  });
});
