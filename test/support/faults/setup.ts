import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, type ReadyChild, spawnUntilReady } from '../cli.js';
import { eventually } from '../cluster.js';

/**
 * What a set-up can do to itself. `kill` is SIGKILL of a process (then a restart on the same
 * data dir and port), `term` a graceful restart (SIGTERM, drain, start again), `kill-redis` a
 * kill -9 of Redis (then a restart: with or without its data, as the set-up's persistence
 * says), `cut-link` a partition between a node and Redis (every connection dropped, new ones
 * refused until healed), `hang-link` a silent one (nothing forwarded, connections open).
 * Slow consumers are not a fault of the set-up: the schedule runner makes a client stop reading.
 */
export type SetUpFault = 'kill' | 'term' | 'kill-redis' | 'cut-link' | 'hang-link';

export interface Fault {
  kind: SetUpFault;
  /** What it hits, one of `targets(kind)`: `node0`, `worker`, `redis`, `link1`, … */
  target: string;
}

export const describeFault = (f: Fault): string => `${f.kind} ${f.target}`;

/** Where clients reach one node of a set-up (stable across its restarts). */
export interface Entry {
  url: string;
  wsUrl: string;
}

/**
 * A deployment the fault schedules run against: real `wirehub serve` processes (and whatever
 * they need: a Redis, task workers), with faults it can inject and heal. A new deployment (for
 * example `serve --workers N`, issue 15) plugs in by implementing this and adding itself to
 * `SETUPS` in setups.ts.
 */
export interface SetUp {
  readonly name: string;
  /** The faults it supports; a schedule only uses these. */
  readonly faults: readonly SetUpFault[];
  /** Nodes clients can connect to (0 … nodes-1). */
  readonly nodes: number;
  /** What each fault can hit. */
  targets(kind: SetUpFault): string[];
  /** Node `i`'s address (its port stays the same across restarts). */
  entry(i: number): Entry;
  start(): Promise<void>;
  inject(fault: Fault): Promise<void>;
  heal(fault: Fault): Promise<void>;
  /** Resolves once every node answers `/readyz` with 200. */
  ready(): Promise<void>;
  /**
   * True once a fault destroyed what the set-up does not promise to keep (Redis without
   * persistence restarted empty): runs started before may then be unknown.
   */
  readonly lostStore: boolean;
  /** The last lines each process printed, for a failure report. */
  logs(): string;
  stop(): Promise<void>;
}

/** chat:* with history large enough that nothing a schedule publishes is trimmed. */
export function writeNamespacesFile(dir: string): string {
  const file = join(dir, 'namespaces.json');
  const namespaces = [
    {
      pattern: 'chat:*',
      history: { size: 100_000, ttlMs: 24 * 60 * 60 * 1000 },
      presence: true,
      joinLeave: false,
    },
  ];
  writeFileSync(file, JSON.stringify(namespaces));
  return file;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Server flags every set-up uses: a small output cap (slow consumers reach it quickly), a
 * short drain, and no per-connection message rate or per-IP upgrade rate (every client of a
 * schedule is one fast local IP reconnecting at once after a restart: the limits are tested
 * elsewhere and would only turn load into 4029 and 429 here). `info` logs say when the
 * server listens.
 */
export const COMMON_SERVE_FLAGS = [
  '--max-queued',
  '64KiB',
  '--drain-window',
  '200ms',
  '--message-rate',
  '0',
  '--ip-connection-rate',
  '0',
  '--log-level',
  'info',
];

/**
 * One process of the built CLI (dist/cli/main.js): `wirehub serve` (on a port kept across
 * restarts) or `wirehub worker`, that can be killed, stopped and started again with the same
 * flags and data dir.
 */
export class CliProcess {
  private child: ReadyChild | undefined;
  private port = 0;
  private printed = '';

  constructor(
    readonly name: string,
    private readonly command: 'serve' | 'worker',
    private readonly args: string[],
  ) {}

  /** The process id while it runs (a `serve --workers` primary: its workers are its children). */
  get pid(): number | undefined {
    return this.running ? this.child?.child.pid : undefined;
  }

  get running(): boolean {
    const child = this.child?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  get entry(): Entry {
    if (!this.port) throw new Error(`${this.name} is not a server that was started`);
    return { url: `http://127.0.0.1:${this.port}`, wsUrl: `ws://127.0.0.1:${this.port}` };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const serve = this.command === 'serve';
    const command = [process.execPath, CLI, this.command, ...(serve ? ['--port', String(this.port)] : [])];
    this.child = await spawnUntilReady(
      [...command, ...this.args],
      {},
      serve ? /wirehub listening on https?:\/\/[^\s"]+:(\d+)/ : /wirehub worker (\S+) ready/,
      this.name,
    );
    if (serve) this.port = Number(this.child.ready[1]);
  }

  /** Sends `signal` and resolves once the process is gone. */
  async stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill(signal);
    await child.exited;
    this.printed += child.output();
  }

  /** Resolves once a server answers `/readyz` with 200 (a worker: once it runs). */
  async ready(): Promise<void> {
    if (this.command !== 'serve') return;
    await eventually(`${this.name} to be ready`, async () => {
      try {
        return (await fetch(`${this.entry.url}/readyz`)).status === 200;
      } catch {
        return false;
      }
    });
  }

  /** The last `lines` lines the process printed (across restarts), info logs left out. */
  tail(lines = 20): string {
    const all = `${this.printed}${this.child?.output() ?? ''}`
      .trimEnd()
      .split('\n')
      .filter((l) => !/^\{"level":(10|20|30),/.test(l));
    return all
      .slice(-lines)
      .map((l) => `  ${this.name}| ${l}`)
      .join('\n');
  }
}
