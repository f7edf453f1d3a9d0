import { Socket } from 'node:net';

/**
 * Sends a hand-written HTTP request on a raw TCP socket and resolves with everything the
 * server answered before closing (or the headers of a 101, after which it hangs up itself). Used where a real client would normalise what we want to
 * test (paths with `..`, malformed handshakes).
 */
export function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let data = '';
    socket.on('data', (c) => {
      data += c.toString();
      // An accepted upgrade keeps the socket open: its headers are the whole answer.
      if (data.startsWith('HTTP/1.1 101') && data.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.connect(port, '127.0.0.1', () => socket.write(request));
  });
}

/** A raw WebSocket upgrade request for `path`, sent verbatim (no URL normalisation). */
export function rawUpgrade(port: number, path: string, extraHeaders = ''): Promise<string> {
  return rawRequest(
    port,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
  );
}

/** The status code of a raw HTTP response. */
export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

/**
 * True when the server under test keeps dot segments in a raw request's path (`/chat/..`):
 * Node's server does; Bun's native server resolves them (WHATWG URL rules, `%2e` too) before
 * wirehub routes, so such a path arrives as another path and is refused 404 `not_found`.
 */
export const keepsDotSegments = !(
  typeof process.versions.bun === 'string' && process.env.WIREHUB_TRANSPORT !== 'node'
);
