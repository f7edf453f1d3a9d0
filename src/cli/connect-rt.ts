import WebSocket from 'ws';
import { WirehubClient } from '../client/client.js';
import type { Publication } from '../client/subscription.js';
import type { WebSocketConstructor } from '../client/websocket.js';
import { WirehubError } from '../protocol/index.js';
import type { ConnectPlan } from './connect-plan.js';
import { ConnectSession } from './connect-session.js';
import { ServerError } from './server-api.js';

/** A stdin line as publication data: JSON when it parses (`{"a":1}`, `42`), else the text itself. */
function lineData(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A publication as a line: what it carries, without the frame's `op`. */
function printable(pub: Publication): Omit<Publication, 'op'> {
  const { op: _op, ...rest } = pub as Publication & { op?: string };
  return rest;
}

/**
 * `/rt` through the client SDK: subscribes, prints each publication as a JSON line, publishes
 * `--send` values and stdin lines to `--publish`; reconnects and recovers by itself, saying so
 * on stderr. Resolves with the exit code.
 */
export async function connectRt(plan: ConnectPlan): Promise<number> {
  const client = new WirehubClient({
    url: plan.target,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    ...(plan.token === undefined ? {} : { token: plan.token }),
  });
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const session = new ConnectSession(plan, () => void client.close());
  client.on('connected', ({ reconnect }) => say(reconnect ? 'reconnected' : `connected to ${plan.target}`));
  client.on('disconnected', ({ code, error, reconnectInMs }) =>
    say(`disconnected (${code}: ${error.message}); reconnecting in ${reconnectInMs} ms`),
  );
  client.on('recovery', ({ channel, recovered, replayed }) =>
    say(
      recovered
        ? `${channel}: recovered ${replayed} missed publications`
        : `${channel}: missed publications could not be recovered (recovered: false)`,
    ),
  );
  client.on('closed', ({ error }) =>
    session.finish(error ? 1 : 0, error ? `closed: ${error.code}: ${error.message}` : undefined),
  );
  try {
    await client.connect();
    for (const channel of plan.subscribe) {
      await client.subscribe(channel, (pub) => session.print(JSON.stringify(printable(pub))), {
        ...(plan.since ? { since: plan.since } : {}),
        onError: (err) => session.finish(1, `${channel}: ${err.code}: ${err.message}`),
      });
      say(`subscribed to ${channel}`);
    }
  } catch (err) {
    // --count reached during a replay, a timeout or Ctrl-C: the close failed what was pending.
    if (session.ended) return session.done;
    await client.close();
    if (err instanceof WirehubError) throw new ServerError(`${plan.target}: ${err.code}: ${err.message}`);
    throw err;
  }
  const channel = plan.publish;
  if (channel !== undefined) {
    session.feed(async (text) => {
      await client.publish(channel, lineData(text));
    });
  }
  return session.done;
}
