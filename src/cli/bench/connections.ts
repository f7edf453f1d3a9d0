import {
  buildReport,
  type CommonOptions,
  closeAll,
  common,
  connectAll,
  ErrorLog,
  MeasuredWindow,
  windowTicker,
} from './common.js';
import { SourceAddresses } from './connect.js';
import { round } from './proc-stats.js';
import type { BenchReport } from './report.js';

export interface ConnectionsOptions extends CommonOptions {
  /** Idle connections to open and hold (`durationMs` is how long they are held). */
  count: number;
}

export interface ConnectionsResults {
  opened: number;
  failures: number;
  /** Handshakes completed per second while connecting. */
  connectsPerSec: number;
  /** Connections the server closed while they were held. */
  closedEarly: number;
  /** Source addresses used (127.0.0.x), more than one when ports would run out. */
  sourceAddresses: number;
  /** Server RSS growth per open connection (needs the server's pid), in bytes. */
  rssPerConnectionBytes: number;
}

/**
 * `connections`: opens N idle connections (spreading source addresses over 127.0.0.x when
 * one address would run out of ports), holds them, then closes them. With the server's pid
 * it reports the server's RSS per connection.
 */
export async function runConnections(o: ConnectionsOptions): Promise<BenchReport<ConnectionsResults>> {
  const c = common(o);
  const errors = new ErrorLog();
  const startedAt = new Date().toISOString();
  await o.settle?.();
  const measured = new MeasuredWindow(o, c);
  measured.schedule();
  const opened = await connectAll(o, o.count, errors);
  let closedEarly = 0;
  let holding = true;
  for (const socket of opened.sockets) {
    socket.onClose = (code) => {
      if (!holding) return;
      closedEarly += 1;
      errors.add(`server closed an idle connection with ${code}`);
    };
  }
  const stopTicker = windowTicker(c.progress, 'holding', o.durationMs);
  await new Promise((resolve) => setTimeout(resolve, o.durationMs));
  stopTicker();
  await o.settle?.();
  const n = opened.sockets.length;
  const { windowMs, server } = await measured.close(() => n);
  holding = false;
  await closeAll(opened.sockets);
  return buildReport({
    scenario: 'connections',
    o,
    c,
    startedAt,
    windowMs,
    params: { count: o.count, holdMs: o.durationMs, concurrency: c.concurrency },
    results: {
      opened: n,
      failures: opened.failures,
      connectsPerSec: round((n * 1000) / Math.max(1, opened.elapsedMs)),
      closedEarly,
      sourceAddresses: new SourceAddresses(o.url, o.count).addressesFor(o.count),
      rssPerConnectionBytes:
        server && n > 0 ? Math.round((server.rssEndBytes - server.rssStartBytes) / n) : 0,
    },
    latencyMs: opened.latency.summary(),
    server,
    errors,
  });
}
