import WebSocket from 'ws';
import { CloseCode } from '../protocol/close-codes.js';
import type { ConnectPlan } from './connect-plan.js';
import { ConnectSession } from './connect-session.js';
import { openSocket } from './open-socket.js';

/** A plain endpoint (`/ws`, `/echo`, `/chat/{room}`, …): text frames in and out. Resolves with the exit code. */
export async function connectPlain(plan: ConnectPlan): Promise<number> {
  // Made in the `open` event (see openSocket), before any frame can arrive.
  let session!: ConnectSession;
  const ws = await openSocket(plan.target, plan.token, (socket) => {
    const s = new ConnectSession(plan, () => {
      if (socket.readyState === WebSocket.OPEN) socket.close(CloseCode.Normal);
    });
    session = s;
    socket.on('message', (data, isBinary) => {
      const bytes = Buffer.isBuffer(data)
        ? data
        : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
      s.print(
        isBinary ? `[binary, ${bytes.length} bytes] ${bytes.toString('base64')}` : bytes.toString('utf8'),
      );
    });
    socket.on('close', (code, reason) => {
      const text = reason.toString();
      // 1000 is a normal end (ours or the server's); anything else (1001 draining, 4008 too slow, 4029 rate limited…) is reported as a failure.
      if (code === CloseCode.Normal) s.finish(0);
      else s.finish(1, `closed by the server: ${code}${text ? ` ${text}` : ''}`);
    });
    socket.on('error', (err) => s.finish(1, `connection error: ${err.message}`));
  });
  process.stderr.write(`connected to ${plan.target}\n`);
  session.feed((text) => {
    ws.send(text);
  });
  return session.done;
}
