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
  /** Resident set size in bytes. */
  rssBytes: number;
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
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (!Number.isFinite(ticks) || rssKb === undefined) {
    throw new Error(`cannot parse /proc/${pid}/stat or status`);
  }
  return { cpuMs: (ticks * 1000) / clockTicks(), rssBytes: Number(rssKb) * 1024 };
}

/** What the server process spent over a measured window. */
export interface ServerUsage {
  pid: number;
  /** CPU time the server used during the window, in milliseconds. */
  cpuMs: number;
  /** Server CPU per counted message (delivery, echo or connection), in microseconds. */
  cpuUsPerMessage: number;
  /** Average server CPU utilisation over the window (1 = one core busy). */
  cpuCores: number;
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
      cpuUsPerMessage: messages > 0 ? round((cpuMs * 1000) / messages, 3) : 0,
      cpuCores: round(cpuMs / elapsedMs, 3),
      rssStartBytes: start.rssBytes,
      rssEndBytes: end.rssBytes,
    };
  }
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
