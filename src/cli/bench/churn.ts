import { buildReport, type CommonOptions, common, ErrorLog, MeasuredWindow, windowTicker } from './common.js';
import { boundedWorkers, closeWithin, connectFrom, SourceAddresses } from './connect.js';
import { LatencyRecorder } from './latency.js';
import { round } from './proc-stats.js';
import type { BenchReport } from './report.js';

export interface ChurnOptions extends CommonOptions {
  /** Count bound: connect/close cycles in all. */
  maxCycles: number;
}

export interface ChurnResults {
  /** Connections opened and closed again. */
  cycles: number;
  failures: number;
  /** Completed connect+close cycles per second. */
  cyclesPerSec: number;
}

/**
 * `churn`: `concurrency` workers each connect, wait for the socket to open, close it with a
 * closing handshake and start over, until the time or count bound. Reports cycles/s and
 * handshake latency.
 */
export async function runChurn(o: ChurnOptions): Promise<BenchReport<ChurnResults>> {
  const c = common(o);
  const errors = new ErrorLog();
  const latency = new LatencyRecorder();
  const startedAt = new Date().toISOString();
  // Closed connections leave TIME_WAIT entries behind: spread sources as if all were open.
  const sources = new SourceAddresses(o.url, o.maxCycles);
  let cycles = 0;
  let failures = 0;
  await o.settle?.();
  const measured = new MeasuredWindow(o, c);
  measured.schedule();
  const stopTicker = windowTicker(c.progress, 'churn', o.durationMs);
  await boundedWorkers(c.concurrency, o.maxCycles, o.durationMs, async (index) => {
    const begin = performance.now();
    try {
      const socket = await connectFrom(c.driver, o.url, sources, index, { timeoutMs: c.connectTimeoutMs });
      latency.record(performance.now() - begin);
      await closeWithin(socket, c.connectTimeoutMs);
      cycles += 1;
    } catch (err) {
      failures += 1;
      errors.add(err);
    }
  });
  stopTicker();
  const { windowMs, server } = await measured.close(() => cycles);
  return buildReport({
    scenario: 'churn',
    o,
    c,
    startedAt,
    windowMs,
    params: { concurrency: c.concurrency, durationMs: o.durationMs, maxCycles: o.maxCycles },
    results: { cycles, failures, cyclesPerSec: round((cycles * 1000) / windowMs) },
    latencyMs: latency.summary(),
    server,
    errors,
  });
}
