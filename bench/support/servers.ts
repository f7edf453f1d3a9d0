import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, connect as tcpConnect } from 'node:net';
// @ts-expect-error: a plain .mjs script without types
import { findBun } from '../../scripts/bun-path.mjs';

/** A free TCP port on 127.0.0.1 (bound and released; the server takes it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// A harness that dies (an error, Ctrl-C) must not leave servers behind.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

export interface ServerSpec {
  args: string[];
  env?: Record<string, string>;
  /** Run under Bun (the binary scripts/bun-path.mjs finds) instead of this Node. */
  bun?: boolean;
}

/**
 * One measured server as a child process: its own pid, so /proc gives its CPU and RSS
 * apart from the load generator's. Every server runs with the same hooks preloaded
 * (server-hooks.mjs: GC and CPU profiling on command).
 */
export class ServerProcess {
  private stderr = '';
  private waiters = new Map<string, ((detail: string) => void)[]>();
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
      for (const [command, waiters] of this.waiters) {
        const line = new RegExp(`@@${command}-done ?(.*)`).exec(chunk);
        if (line) for (const w of waiters.splice(0)) w(line[1] ?? '');
      }
    });
    child.stdout?.resume();
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Starts `node <node flags> <args>` with PORT set and waits until the port accepts. */
  static async start(spec: ServerSpec, port: number, nodeFlags: string[] = []): Promise<ServerProcess> {
    const hooks = new URL('./server-hooks.mjs', import.meta.url).pathname;
    const [command, runtimeArgs] = spec.bun
      ? [bunBinary(), ['--preload', hooks]]
      : [process.execPath, ['--expose-gc', '--import', hooks, ...nodeFlags]];
    const child = spawn(command, [...runtimeArgs, ...spec.args], {
      env: {
        ...process.env,
        ...spec.env,
        PORT: String(port),
        WIREHUB_PORT: String(port),
        NODE_ENV: 'production',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.add(child);
    child.once('exit', () => running.delete(child));
    const server = new ServerProcess(child, port);
    const started = performance.now();
    let exited = false;
    void server.exited.then(() => {
      exited = true;
    });
    while (!(await accepting(port))) {
      if (exited) throw new Error(`server exited before listening: ${server.stderr.trim().slice(-500)}`);
      if (performance.now() - started > 15_000) {
        await server.stop();
        throw new Error(`server did not listen on ${port} within 15 s: ${server.stderr.trim().slice(-500)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return server;
  }

  /** Runs a command of server-hooks.mjs in the server and waits until it is done (at most `ms`). */
  private command(command: string, arg?: string, ms = 10_000): Promise<string> {
    return new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve(''), ms);
      const list = this.waiters.get(command) ?? [];
      list.push((detail) => {
        clearTimeout(timer);
        resolve(detail);
      });
      this.waiters.set(command, list);
      this.child.stdin?.write(`${command}${arg === undefined ? '' : ` ${arg}`}\n`);
    });
  }

  /** Makes the server collect garbage, lets it settle briefly, and returns its heap in use. */
  async gc(): Promise<{ heapUsed: number } | undefined> {
    const detail = await this.command('gc');
    await new Promise((r) => setTimeout(r, 200));
    try {
      return JSON.parse(detail) as { heapUsed: number };
    } catch {
      return undefined;
    }
  }

  /** Collects garbage and writes a V8 heap snapshot to `file`; returns the memory after the collection. */
  async heapSnapshot(file: string): Promise<Record<string, number> | undefined> {
    const detail = await this.command('heap-snapshot', file, 120_000);
    try {
      return JSON.parse(detail) as Record<string, number>;
    } catch {
      return undefined;
    }
  }

  async profileStart(): Promise<void> {
    await this.command('profile-start');
  }

  async profileStop(file: string): Promise<void> {
    await this.command('profile-stop', file);
  }

  /** SIGTERM, SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Bun's binary for `bun: true` servers (from the npm registry package, see scripts/bun-path.mjs). */
export function bunBinary(): string {
  const bun = findBun();
  if (!bun)
    throw new Error(
      'no Bun binary: run npm ci (optional dependency @oven/bun-linux-x64, Linux x64 only) or set WIREHUB_BUN',
    );
  return bun;
}
