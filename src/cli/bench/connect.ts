import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { BenchSocket, ConnectOptions, Driver } from './driver.js';
import { LatencyRecorder } from './latency.js';

/** Ephemeral ports one source address can use towards one server port. */
function ephemeralPorts(): number {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(hi) - Number(lo) + 1;
    if (Number.isFinite(n) && n > 0) return n;
  } catch {
    // Not Linux: assume the IANA range.
  }
  return 16_384;
}

/**
 * Picks source addresses so that a loopback target can take more connections than one
 * address has ephemeral ports: connection `i` binds 127.0.0.(1 + i / quota). Targets that
 * are not IPv4 loopback get no explicit source address.
 */
export class SourceAddresses {
  /** Connections per source address: 80% of the ephemeral range, leaving room for others. */
  readonly quota: number;
  private readonly spread: boolean;

  constructor(url: string, total: number, quota = Math.floor(ephemeralPorts() * 0.8)) {
    const host = new URL(url).hostname;
    const loopback = isIP(host) === 4 && host.startsWith('127.');
    this.quota = quota;
    // Small runs keep the kernel's default choice; large ones spread from the first
    // connection on, each address taking up to `quota`.
    this.spread = loopback && total > quota;
  }

  /** Number of distinct source addresses needed for `total` connections. */
  addressesFor(total: number): number {
    return this.spread ? Math.ceil(total / this.quota) : 1;
  }

  for(index: number): string | undefined {
    if (!this.spread) return undefined;
    const n = 1 + Math.floor(index / this.quota);
    if (n > 254) throw new Error('more connections than 127.0.0.1-254 can carry');
    return `127.0.0.${n}`;
  }
}

/** The process's open-files limit (soft), from /proc/self/limits; undefined when unknown. */
export function openFilesLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line?.[1] || line[1] === 'unlimited') return undefined;
    return Number(line[1]);
  } catch {
    return undefined;
  }
}

/** Throws a clear error when `count` connections cannot fit in this process's fd limit. */
export function checkOpenFiles(count: number): void {
  const limit = openFilesLimit();
  if (limit !== undefined && count + 64 > limit) {
    throw new Error(
      `${count} connections need about ${count + 64} open files but the limit is ${limit}: raise it (ulimit -n) or use fewer connections`,
    );
  }
}

export interface OpenManyOptions {
  driver: Driver;
  url: string;
  count: number;
  /** Handshakes in progress at once. */
  concurrency: number;
  connect: Omit<ConnectOptions, 'localAddress'>;
  /** Stop opening new connections after this time (ms since the call). */
  deadlineMs: number;
  sources: SourceAddresses;
  /** Runs after each connection opens (e.g. a subscribe); its time counts in the latency. */
  prepare?(socket: BenchSocket, index: number): Promise<void>;
  onProgress?(opened: number): void;
}

export interface OpenManyResult {
  sockets: BenchSocket[];
  failures: number;
  /** First distinct failure messages. */
  errors: string[];
  latency: LatencyRecorder;
  elapsedMs: number;
}

/**
 * Opens `count` connections with at most `concurrency` handshakes in flight, bounded by a
 * deadline. Failures are counted, not thrown: a benchmark reports them.
 */
export async function openMany(o: OpenManyOptions): Promise<OpenManyResult> {
  const sockets: BenchSocket[] = [];
  const errors = new ErrorLog();
  const latency = new LatencyRecorder();
  const started = performance.now();
  let failures = 0;
  await boundedWorkers(o.concurrency, o.count, o.deadlineMs, async (index) => {
    const t0 = performance.now();
    try {
      const socket = await connectFrom(o.driver, o.url, o.sources, index, o.connect);
      try {
        await o.prepare?.(socket, index);
      } catch (err) {
        socket.terminate();
        throw err;
      }
      latency.record(performance.now() - t0);
      sockets.push(socket);
      o.onProgress?.(sockets.length);
    } catch (err) {
      failures += 1;
      errors.add(err);
    }
  });
  return { sockets, failures, errors: errors.list, latency, elapsedMs: performance.now() - started };
}

/**
 * Runs `task(0)` … `task(count - 1)` on `concurrency` workers, starting no new task once
 * `timeMs` have passed: the loop every scenario's connection phase uses, bounded in count
 * and time.
 */
export async function boundedWorkers(
  concurrency: number,
  count: number,
  timeMs: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count && performance.now() - started < timeMs) {
      const index = next;
      next += 1;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
}

/** Connects connection number `index`, from the source address it is due. */
export function connectFrom(
  driver: Driver,
  url: string,
  sources: SourceAddresses,
  index: number,
  options: Omit<ConnectOptions, 'localAddress'>,
): Promise<BenchSocket> {
  const localAddress = sources.for(index);
  return driver.connect(url, { ...options, ...(localAddress === undefined ? {} : { localAddress }) });
}

/** Closes every socket with a closing handshake, terminating what is still open after `timeoutMs`. */
export async function closeAll(sockets: BenchSocket[], timeoutMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(sockets.map((s) => s.close())), timedOut]);
  clearTimeout(timer);
  for (const s of sockets) s.terminate();
}

/** Closes one socket with a closing handshake, terminating it when that takes over `timeoutMs`. */
export async function closeWithin(socket: BenchSocket, timeoutMs: number): Promise<void> {
  await closeAll([socket], timeoutMs);
}

/**
 * A wirehub server's per-IP limits refuse a load generator (one IP, hundreds of upgrades a
 * second) with 429: say which flags the server under test needs.
 */
export const RATE_LIMIT_HINT =
  'the server limits connections per client IP: start it with --max-connections-per-ip 0 --ip-connection-rate 0 --message-rate 0 (docs/benchmarks.md)';

/** An error message of a run, with the fix when the cause is a known server setting. */
export function explainFailure(message: string): string {
  return /HTTP 429\b/.test(message) ? `${message}: ${RATE_LIMIT_HINT}` : message;
}

/** Keeps the first few distinct error messages of a run. */
export class ErrorLog {
  readonly list: string[] = [];
  constructor(private readonly max = 5) {}
  add(err: unknown): void {
    const message = explainFailure(err instanceof Error ? err.message : String(err));
    if (this.list.length < this.max && !this.list.includes(message)) this.list.push(message);
  }
}
