import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../cluster.js';
import {
  CliProcess,
  COMMON_SERVE_FLAGS,
  type Entry,
  type Fault,
  type SetUp,
  type SetUpFault,
  tempDir,
  writeNamespacesFile,
} from './setup.js';

/**
 * `wirehub serve --workers N` on the embedded store: one primary (the SQLite stores, offsets,
 * runs) and N worker processes sharing one port, so a schedule's clients land on different
 * workers behind the one address. Faults: SIGKILL of one worker (`workerK`: the primary
 * restarts it; its clients reconnect to the others and recover), SIGKILL of the whole server
 * (`node0`: the primary, whose workers exit with it) and a graceful restart (SIGTERM drains
 * every worker), each restarted on the same data dir and port.
 */
export class WorkersSetUp implements SetUp {
  readonly name: string;
  readonly faults: readonly SetUpFault[] = ['kill', 'term'];
  readonly nodes = 1;
  readonly lostStore = false;
  private readonly dir = tempDir('wirehub-faults-');
  private readonly server: CliProcess;

  constructor(private readonly workers: number) {
    this.name = `workers-${workers}`;
    this.server = new CliProcess('node0', 'serve', [
      '--workers',
      String(workers),
      '--data-dir',
      join(this.dir, 'data'),
      '--namespaces',
      writeNamespacesFile(this.dir),
      '--task-workers',
      '1',
      ...COMMON_SERVE_FLAGS,
    ]);
  }

  targets(kind: SetUpFault): string[] {
    const workers = Array.from({ length: this.workers }, (_, i) => `worker${i}`);
    if (kind === 'kill') return ['node0', ...workers];
    return kind === 'term' ? ['node0'] : [];
  }

  entry(): Entry {
    return this.server.entry;
  }

  async start(): Promise<void> {
    await this.server.start();
    await this.ready();
  }

  async inject(fault: Fault): Promise<void> {
    if (fault.target.startsWith('worker')) {
      // workerK: the K-th of the worker processes by pid (the schedule's seed picks K).
      const pids = this.workerPids().sort((a, b) => a - b);
      const victim = pids[Number(fault.target.slice('worker'.length)) % Math.max(pids.length, 1)];
      if (victim === undefined) throw new Error('the server has no worker process to kill');
      process.kill(victim, 'SIGKILL');
      return;
    }
    await this.server.stop(fault.kind === 'term' ? 'SIGTERM' : 'SIGKILL');
  }

  async heal(fault: Fault): Promise<void> {
    // A killed worker is the primary's to restart: healing is waiting for it (see `ready`).
    if (!fault.target.startsWith('worker')) await this.server.start();
  }

  /** Every worker listening again (after a restart the primary waits for all of them). */
  async ready(): Promise<void> {
    await this.server.ready();
    await eventually(
      `${this.name}: every worker running`,
      async () => {
        try {
          const body = (await (await fetch(`${this.entry().url}/healthz`)).json()) as {
            workers?: { alive: number; wanted: number };
          };
          return body.workers?.alive === this.workers && this.workerPids().length === this.workers;
        } catch {
          return false;
        }
        // A replacement worker loads the whole server before it listens: seconds on a busy box.
      },
      60_000,
      100,
    );
  }

  logs(): string {
    return this.server.tail(40);
  }

  async stop(): Promise<void> {
    await this.server.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The primary's child processes: its workers (tasks run on threads, not processes). */
  private workerPids(): number[] {
    const pid = this.server.pid;
    if (pid === undefined) return [];
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }
}
