import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { quietReceiverEnd, quietSocketEnd } from '../../src/server/ws/ws-quiet-end.js';

const { Receiver } = (await import('ws' as string)) as {
  Receiver: new (
    opts: object,
  ) => NodeJS.WritableStream & {
    end(cb?: (err?: Error | null) => void): unknown;
    writableFinished: boolean;
  };
};

quietReceiverEnd();

describe("ws's Receiver with quietReceiverEnd", () => {
  it('still ends, and an argument-less end() after that returns the stream', async () => {
    const receiver = new Receiver({ isServer: true, maxPayload: 0 });
    receiver.end();
    await once(receiver, 'finish');
    expect(receiver.end()).toBe(receiver);
  });

  it('still hands a callback the error Node gives it', async () => {
    const receiver = new Receiver({ isServer: true, maxPayload: 0 });
    receiver.end();
    await once(receiver, 'finish');
    const err = await new Promise<Error | null | undefined>((resolve) => receiver.end(resolve));
    expect((err as NodeJS.ErrnoException | null)?.code).toBe('ERR_STREAM_ALREADY_FINISHED');
  });
});

describe('quietSocketEnd', () => {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const sockets: Duplex[] = [];
  http.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      quietSocketEnd(socket);
      sockets.push(socket);
      wss.emit('connection', ws);
    });
  });
  afterAll(() => {
    wss.close();
    http.close();
  });

  it('keeps one end listener and completes a closing handshake either side starts', async () => {
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    for (const who of ['client', 'server'] as const) {
      const client = new WebSocket(`ws://127.0.0.1:${port}/`);
      const [server] = (await once(wss, 'connection')) as [WebSocket];
      await once(client, 'open');
      const socket = sockets.at(-1) as Duplex;
      expect(socket.listeners('end').map((f) => f.name)).not.toContain('socketOnEnd');
      const serverClosed = once(server, 'close');
      const clientClosed = once(client, 'close');
      if (who === 'client') client.close(1000, 'bye');
      else server.close(4000, 'bye');
      const [[code], [clientCode]] = await Promise.all([serverClosed, clientClosed]);
      expect(code).toBe(who === 'client' ? 1000 : 4000);
      expect(clientCode).toBe(code);
      if (!socket.destroyed) await once(socket, 'close');
      expect(socket.writableFinished).toBe(true);
    }
  });
});
