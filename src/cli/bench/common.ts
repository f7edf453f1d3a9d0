import { closeAll, ErrorLog, type OpenManyResult, openMany, SourceAddresses } from './connect.js';
import { type BenchSocket, type Driver, wsDriver } from './driver.js';
import type { LatencySummary } from './latency.js';
import { round, ServerProbe, type ServerUsage } from './proc-stats.js';
import { Progress } from './progress.js';
import type { BenchReport, ScenarioName } from './report.js';

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

export type Common = ReturnType<typeof common>;

/**
 * The measured window of a run. It opens after the warm-up (`onOpen` resets the run's
 * window counters), and at both ends it samples the server and tells the harness.
 */
export class MeasuredWindow {
  private openedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: CommonOptions,
    private readonly c: Common,
    private readonly onOpen: () => void = () => {},
  ) {}

  get measuring(): boolean {
    return this.openedAt !== undefined;
  }

  /** Opens the window now, or once the warm-up is over. */
  schedule(): void {
    if (this.c.warmupMs > 0) this.timer = setTimeout(() => this.open(), this.c.warmupMs);
    else this.open();
  }

  private open(): void {
    this.openedAt = performance.now();
    this.onOpen();
    this.c.probe?.begin();
    this.o.window?.start();
  }

  /** Closes the window; `messages` counts the work done in it (read after a late open). */
  async close(messages: () => number): Promise<{ windowMs: number; server: ServerUsage | undefined }> {
    clearTimeout(this.timer);
    if (this.openedAt === undefined) this.open();
    const windowMs = Math.max(1, performance.now() - (this.openedAt ?? 0));
    const server = this.c.probe?.end(messages());
    await this.o.window?.end();
    return { windowMs, server };
  }
}

/** Assembles a scenario's report. */
export function buildReport<R extends object>(r: {
  scenario: ScenarioName;
  o: CommonOptions;
  c: Common;
  startedAt: string;
  windowMs: number;
  params: BenchReport<R>['params'];
  results: R;
  latencyMs: LatencySummary;
  server: ServerUsage | undefined;
  errors: ErrorLog;
}): BenchReport<R> {
  return {
    scenario: r.scenario,
    url: r.o.url,
    driver: r.c.driver.name,
    startedAt: r.startedAt,
    windowMs: round(r.windowMs),
    params: r.params,
    results: r.results,
    latencyMs: r.latencyMs,
    ...(r.server ? { server: r.server } : {}),
    errors: r.errors.list,
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
