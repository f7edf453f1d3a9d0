import { closeAll, ErrorLog, type OpenManyResult, openMany, SourceAddresses } from './connect.js';
import { type BenchSocket, type Driver, wsDriver } from './driver.js';
import { ServerProbe } from './proc-stats.js';
import { Progress } from './progress.js';

/** Options every scenario takes. */
export interface CommonOptions {
  /** `ws://host:port/path` of the endpoint under test. */
  url: string;
  /** How to talk to the server; default plain WebSocket text frames. */
  driver?: Driver;
  /** Length of the measured window, in ms (the time bound of the main loop). */
  durationMs: number;
  /** Load before the measured window starts, so JIT warm-up is not measured. */
  warmupMs?: number;
  /** Per-handshake timeout, in ms. */
  connectTimeoutMs?: number;
  /** Handshakes in flight at once while connecting. */
  concurrency?: number;
  /** The server's pid, to read its CPU time and RSS from /proc (same machine only). */
  serverPid?: number;
  /**
   * Runs before each RSS sample, so the figure is not inflated by garbage. The compare harness
   * makes the server collect garbage here; the CLI leaves it out.
   */
  settle?: () => Promise<void>;
  /**
   * Called when the measured window starts and after it ends (the compare harness profiles
   * the server over exactly the window). Not awaited at the start.
   */
  window?: { start(): unknown; end(): Promise<unknown> };
  progress?: Progress;
}

/** Fills in the defaults of the common options. */
export function common(o: CommonOptions) {
  return {
    driver: o.driver ?? wsDriver,
    warmupMs: o.warmupMs ?? 0,
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    concurrency: o.concurrency ?? 100,
    probe: o.serverPid === undefined ? undefined : new ServerProbe(o.serverPid),
    progress: o.progress ?? new Progress(false),
  };
}

/** Opens the connections a scenario needs, or throws when none could be opened. */
export async function connectAll(
  o: CommonOptions,
  count: number,
  errors: ErrorLog,
  extra: { protocols?: string[]; prepare?: (socket: BenchSocket, index: number) => Promise<void> } = {},
): Promise<OpenManyResult> {
  const c = common(o);
  c.progress.phase('connecting', count);
  const opened = await openMany({
    driver: c.driver,
    url: o.url,
    count,
    concurrency: c.concurrency,
    connect: { timeoutMs: c.connectTimeoutMs, ...(extra.protocols ? { protocols: extra.protocols } : {}) },
    deadlineMs: Math.max(c.connectTimeoutMs, count * 20),
    sources: new SourceAddresses(o.url, count),
    ...(extra.prepare ? { prepare: extra.prepare } : {}),
    onProgress: (n) => c.progress.update(n),
  });
  c.progress.stop();
  for (const e of opened.errors) errors.add(e);
  if (opened.sockets.length === 0) {
    throw new Error(`no connection could be opened to ${o.url}: ${opened.errors[0] ?? 'unknown error'}`);
  }
  return opened;
}

/** A bar that follows the measured window's elapsed time. */
export function windowTicker(progress: Progress, label: string, totalMs: number): () => void {
  const started = performance.now();
  progress.phase(label, Math.max(1, Math.round(totalMs / 1000)));
  const timer = setInterval(() => progress.update(Math.round((performance.now() - started) / 1000)), 250);
  timer.unref();
  return () => {
    clearInterval(timer);
    progress.stop();
  };
}

/** A promise with its resolver, and a timer that resolves it anyway after `ms`. */
export function deadline(ms: number): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  const timer = setTimeout(resolve, ms);
  void promise.then(() => clearTimeout(timer));
  return { promise, resolve };
}

export { closeAll, ErrorLog };

/** `n` characters of filler to pad payloads to a requested size. */
export function filler(n: number): string {
  return 'x'.repeat(Math.max(0, n));
}
