import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WirehubError } from '../../protocol/index.js';

/**
 * Refuses an upgrade (or a request Node's HTTP parser refused) on the raw socket with a plain
 * HTTP response carrying the error as JSON (`{"error":{"code","message"}}`), then closes the
 * socket. No WebSocket is ever opened.
 */
export function rejectUpgrade(
  socket: Duplex,
  err: WirehubError,
  extraHeaders: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: err.toJSON() });
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'X-Content-Type-Options': 'nosniff',
    ...extraHeaders,
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  socket.end(`HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n${head}\r\n\r\n${body}`);
}
