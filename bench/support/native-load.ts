// Builds and runs bench/support/wsload.c, the load generator in C (see that file for why it
// exists): compiled once per source version with the machine's C compiler into
// node_modules/.cache, run as a child process, its JSON report parsed and checked.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchReport } from '../../src/cli/bench/report.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const source = join(root, 'bench/support/wsload.c');

/** The compiled load generator, built now if this version of the source has not been. */
export function nativeLoadBinary(): string {
  const text = readFileSync(source);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  const dir = join(root, 'node_modules/.cache/wirehub-bench');
  const binary = join(dir, `wsload-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const cc = process.env.CC ?? 'cc';
  const partial = `${binary}.${process.pid}.tmp`;
  try {
    execFileSync(cc, ['-O2', '-Wall', '-o', partial, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const detail = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err);
    throw new Error(`cannot build the C load generator with ${cc} (set CC, or install gcc): ${detail}`);
  }
  // Concurrent builders each write their own file; the rename makes whichever lands whole.
  renameSync(partial, binary);
  return binary;
}

export interface NativeLoadOptions {
  mode: 'echo' | 'fanout';
  /** ws://host:port/path of the endpoint. */
  url: string;
  /** Echo: connections; fan-out: subscribers (the first also publishes). */
  connections: number;
  /** Echo: messages in flight per connection. */
  window?: number;
  /** Fan-out flat out: publications not yet received by everyone. */
  inFlight?: number;
  /** Fan-out publications per second; 0 or absent = flat out. */
  rate?: number;
  /** Fan-out: connections 0..P-1 publish in turn (default 1: connection 0 alone). */
  publishers?: number;
  payloadBytes: number;
  warmupMs: number;
  durationMs: number;
  drainMs?: number;
  /** Stop sending after this many messages (echo) or publications (fan-out). */
  count?: number;
  /** The server to measure: its CPU and its children's (workers) over the window. */
  serverPid?: number;
}

/** What wsload prints (one JSON object); counters over the whole run unless said. */
export interface NativeLoadResult {
  mode: 'echo' | 'fanout';
  connections: number;
  connectFailures: number;
  /** Fan-out: how many connections published in turn. */
  publishers: number;
  windowMs: number;
  /** Echo replies or fan-out deliveries received in the measured window. */
  messages: number;
  perSec: number;
  sentInWindow: number;
  sent: number;
  received: number;
  expectedDeliveries: number;
  lost: number;
  outOfOrder: number;
  mismatched: number;
  disconnects: number;
  saturated: number;
  latencyMs: { count: number; mean: number; p50: number; p90: number; p99: number; max: number };
  /** Over the window; `cpuMs` is the server process itself, `childrenCpuMs` its workers. */
  server: {
    cpuMs: number;
    childrenCpuMs: number;
    systemMs: number;
    /** Write syscalls of the server and its children, -1 when /proc/<pid>/io is unreadable. */
    writes: number;
    rssStartBytes: number;
    rssEndBytes: number;
  };
  /** The load generator's own CPU over the window. */
  selfCpuMs: number;
  errors: string[];
}

/** Runs wsload once; rejects when it cannot connect or its report shows anything broken. */
export async function runNativeLoad(o: NativeLoadOptions): Promise<NativeLoadResult> {
  const url = new URL(o.url);
  const args = [
    o.mode,
    '--host',
    url.hostname,
    '--port',
    url.port,
    '--path',
    `${url.pathname}${url.search}`,
    '--connections',
    String(o.connections),
    '--payload',
    String(o.payloadBytes),
    '--warmup-ms',
    String(o.warmupMs),
    '--duration-ms',
    String(o.durationMs),
  ];
  const add = (flag: string, value: number | undefined) => {
    if (value !== undefined) args.push(flag, String(value));
  };
  add('--window', o.window);
  add('--in-flight', o.inFlight);
  add('--rate', o.rate);
  add('--publishers', o.publishers);
  add('--drain-ms', o.drainMs);
  add('--count', o.count);
  add('--server-pid', o.serverPid);
  let stdout: string;
  try {
    ({ stdout } = await run(nativeLoadBinary(), args, { maxBuffer: 1024 * 1024 }));
  } catch (err) {
    const out = (err as { stdout?: string }).stdout;
    throw new Error(`wsload ${args.join(' ')} failed: ${out || String(err)}`);
  }
  return JSON.parse(stdout) as NativeLoadResult;
}

/** Faults in a run that make its numbers meaningless: loss, disorder, failures, errors. */
export function nativeLoadProblems(r: NativeLoadResult): string[] {
  const out: string[] = [];
  for (const key of [
    'connectFailures',
    'lost',
    'outOfOrder',
    'mismatched',
    'disconnects',
    'saturated',
  ] as const)
    if (r[key] > 0) out.push(`${key}=${r[key]}`);
  if (!(r.perSec > 0)) out.push('nothing received in the window');
  return [...out, ...r.errors];
}

/** The server's CPU per message in the window (process + children), in µs. */
export function serverCpuUsPerMessage(r: NativeLoadResult): number {
  return ((r.server.cpuMs + r.server.childrenCpuMs) / r.messages) * 1000;
}

/** A wsload run in the shape `wirehub bench` reports, for harnesses that read those. */
export function asBenchReport(o: NativeLoadOptions, r: NativeLoadResult): BenchReport<object> {
  const cpuMs = r.server.cpuMs + r.server.childrenCpuMs;
  const results =
    o.mode === 'echo'
      ? { connections: r.connections, messagesPerSec: r.perSec, mismatched: r.mismatched }
      : {
          subscribers: r.connections,
          deliveriesPerSec: r.perSec,
          publicationsPerSec: (r.sentInWindow / r.windowMs) * 1000,
          expectedDeliveries: r.expectedDeliveries,
          lost: r.lost,
          outOfOrder: r.outOfOrder,
          saturated: r.saturated,
        };
  return {
    scenario: o.mode,
    url: o.url,
    driver: 'wsload (C)',
    startedAt: new Date().toISOString(),
    windowMs: r.windowMs,
    params: { connections: o.connections, payloadBytes: o.payloadBytes, rate: o.rate ?? 0 },
    results: {
      ...results,
      connectFailures: r.connectFailures,
      disconnects: r.disconnects,
      loadGeneratorCpuUsPerMessage: (r.selfCpuMs / r.messages) * 1000,
    },
    latencyMs: r.latencyMs,
    server: {
      pid: o.serverPid ?? 0,
      cpuMs,
      systemShare: cpuMs > 0 ? r.server.systemMs / cpuMs : 0,
      cpuUsPerMessage: (cpuMs / r.messages) * 1000,
      cpuCores: cpuMs / r.windowMs,
      writesPerMessage: r.server.writes >= 0 ? r.server.writes / r.messages : Number.NaN,
      rssStartBytes: r.server.rssStartBytes,
      rssEndBytes: r.server.rssEndBytes,
    },
    errors: r.errors,
  };
}
