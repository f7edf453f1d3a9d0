import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc CPU times (`getconf CLK_TCK`, 100 on Linux). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      ticksPerSecond = Number.isFinite(n) && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time and resident memory of a process at one moment. */
export interface ProcSample {
  /** User + system CPU time of all the process's threads, in milliseconds. */
  cpuMs: number;
  /** The system (kernel) part of `cpuMs`: syscalls, and on loopback the TCP stack's work. */
  systemMs: number;
  /** Resident set size in bytes. */
  rssBytes: number;
  /**
   * Write-class syscalls so far (`syscw` of /proc/<pid>/io: write, writev, …), or NaN when
   * unreadable. Counting them is exact however busy the machine is, unlike CPU time.
   */
  writeSyscalls: number;
}

/**
 * Reads a process's CPU time from `/proc/<pid>/stat` and its RSS from `/proc/<pid>/status`.
 * Reading the server's own counters (rather than timing from the client) keeps a load
 * generator that shares the cores from distorting "CPU per message". Linux only.
 */
export function readProcSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const systemTicks = Number(fields[12]);
  const ticks = Number(fields[11]) + systemTicks;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (!Number.isFinite(ticks) || rssKb === undefined) {
    throw new Error(`cannot parse /proc/${pid}/stat or status`);
  }
  const hz = clockTicks();
  return {
    cpuMs: (ticks * 1000) / hz,
    systemMs: (systemTicks * 1000) / hz,
    rssBytes: Number(rssKb) * 1024,
    writeSyscalls: readWriteSyscalls(pid),
  };
}

function readWriteSyscalls(pid: number): number {
  try {
    const m = /^syscw:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m?.[1] === undefined ? Number.NaN : Number(m[1]);
  } catch {
    return Number.NaN;
  }
}

/** What the server process spent over a measured window. */
export interface ServerUsage {
  pid: number;
  /** CPU time the server used during the window, in milliseconds. */
  cpuMs: number;
  /** The kernel's share of `cpuMs` (0..1). */
  systemShare: number;
  /** Server CPU per counted message (delivery, echo or connection), in microseconds. */
  cpuUsPerMessage: number;
  /** Average server CPU utilisation over the window (1 = one core busy). */
  cpuCores: number;
  /**
   * Write syscalls per counted message (NaN when /proc/<pid>/io is unreadable): how well
   * the server batches, measured exactly.
   */
  writesPerMessage: number;
  rssStartBytes: number;
  rssEndBytes: number;
}

/** Samples a server process at the start and end of a measured window. */
export class ServerProbe {
  private start: ProcSample | undefined;
  private startedAt = 0;

  constructor(readonly pid: number) {
    // Fail early, before any load is generated, when the pid is wrong.
    readProcSample(pid);
  }

  begin(): void {
    this.start = readProcSample(this.pid);
    this.startedAt = performance.now();
  }

  /** Ends the window; `messages` is what the run counts as work (deliveries, echoes…). */
  end(messages: number): ServerUsage {
    const start = this.start ?? readProcSample(this.pid);
    const end = readProcSample(this.pid);
    const elapsedMs = Math.max(1, performance.now() - this.startedAt);
    const cpuMs = end.cpuMs - start.cpuMs;
    return {
      pid: this.pid,
      cpuMs,
      systemShare: cpuMs > 0 ? round((end.systemMs - start.systemMs) / cpuMs, 3) : 0,
      cpuUsPerMessage: messages > 0 ? round((cpuMs * 1000) / messages, 3) : 0,
      cpuCores: round(cpuMs / elapsedMs, 3),
      writesPerMessage: messages > 0 ? round((end.writeSyscalls - start.writeSyscalls) / messages, 4) : 0,
      rssStartBytes: start.rssBytes,
      rssEndBytes: end.rssBytes,
    };
  }
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
