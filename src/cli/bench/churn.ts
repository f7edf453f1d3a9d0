import { type CommonOptions, common, ErrorLog, windowTicker } from './common.js';
import { closeWithin, SourceAddresses } from './connect.js';
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
  let started = 0;
  let cycles = 0;
  let failures = 0;
  await o.settle?.();
  c.probe?.begin();
  o.window?.start();
  const t0 = performance.now();
  const stopTicker = windowTicker(c.progress, 'churn', o.durationMs);
  const worker = async () => {
    while (started < o.maxCycles && performance.now() - t0 < o.durationMs) {
      const index = started;
      started += 1;
      const begin = performance.now();
      try {
        const localAddress = sources.for(index);
        const socket = await c.driver.connect(o.url, {
          timeoutMs: c.connectTimeoutMs,
          ...(localAddress === undefined ? {} : { localAddress }),
        });
        latency.record(performance.now() - begin);
        await closeWithin(socket, c.connectTimeoutMs);
        cycles += 1;
      } catch (err) {
        failures += 1;
        errors.add(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(c.concurrency, o.maxCycles)) }, worker));
  stopTicker();
  const windowMs = Math.max(1, performance.now() - t0);
  const server = c.probe?.end(cycles);
  await o.window?.end();
  return {
    scenario: 'churn',
    url: o.url,
    driver: c.driver.name,
    startedAt,
    windowMs: round(windowMs),
    params: { concurrency: c.concurrency, durationMs: o.durationMs, maxCycles: o.maxCycles },
    results: { cycles, failures, cyclesPerSec: round((cycles * 1000) / windowMs) },
    latencyMs: latency.summary(),
    ...(server ? { server } : {}),
    errors: errors.list,
  };
}
