import WebSocket from 'ws';
import { authHeaders, ServerError } from './server-api.js';

/**
 * Opens a WebSocket to a wirehub server with the CLI's credentials. A refused upgrade (401
 * without a good `--token`, 403, 404, 429…) rejects with a ServerError that says why, from the
 * server's JSON body; an unreachable server rejects naming the network error. `ready` runs in
 * the `open` event itself: a frame that arrives with the handshake (a welcome message) is
 * emitted before an `await` would resume, so listeners must be attached there.
 */
export function openSocket(
  wsUrl: string,
  token: string | undefined,
  ready: (ws: WebSocket) => void = () => {},
  /** How messages name the server (default the socket's URL). */
  label = wsUrl,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers: authHeaders(token), perMessageDeflate: false });
    ws.once('open', () => {
      ready(ws);
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        let message = 'no details';
        try {
          const error = (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
          if (error?.message) message = `${error.code ?? 'error'}: ${error.message}`;
        } catch {}
        reject(new ServerError(`${label} refused the connection (HTTP ${res.statusCode}): ${message}`));
      });
    });
    ws.once('error', (err: Error & { code?: string }) =>
      reject(new ServerError(`cannot reach ${label}: ${err.code ?? err.message}`)),
    );
  });
}
