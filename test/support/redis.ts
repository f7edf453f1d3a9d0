import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian puts redis-server; PATH is tried too. */
function redisServerBinary(): string | undefined {
  for (const candidate of ['redis-server', '/usr/bin/redis-server']) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  return undefined;
}

/**
 * True when tests that need Redis can run. Under CI a missing redis-server is an error, not a
 * skip; elsewhere the suite is skipped with a notice naming the Debian package.
 */
export function redisAvailable(
  findBinary: () => string | undefined = redisServerBinary,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (findBinary()) return true;
  const notice =
    'redis-server is not installed: install the Debian package redis-server (apt-get install redis-server)';
  if (env.CI) throw new Error(notice);
  console.warn(`[skipped] ${notice}`);
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * How a test's Redis keeps its data across a restart: `none` (a restart is an empty Redis,
 * like a failover to a fresh replica), `rdb` (snapshots: only what the last `SAVE` wrote comes
 * back), or an append-only file fsynced on every write (`aof-always`) or once a second
 * (`aof-everysec`, Redis' usual setting: a power loss may lose the last second).
 */
export type RedisPersistence = 'none' | 'rdb' | 'aof-always' | 'aof-everysec';

function persistenceArgs(persistence: RedisPersistence): string[] {
  if (persistence === 'none' || persistence === 'rdb') return ['--appendonly', 'no'];
  return ['--appendonly', 'yes', '--appendfsync', persistence === 'aof-always' ? 'always' : 'everysec'];
}

/**
 * A private redis-server on a free port that a test may kill and restart (never the shared
 * one on 6379), in its own data dir. By default data is not persisted (see {@link RedisPersistence}).
 */
export class RedisProcess {
  private child: ChildProcess | undefined;
  /** Its data dir (dump.rdb, appendonlydir/), kept across restarts. */
  readonly dir = mkdtempSync(join(tmpdir(), 'wirehub-redis-'));

  private constructor(
    readonly port: number,
    readonly persistence: RedisPersistence,
  ) {}

  static async start(options: { persistence?: RedisPersistence } = {}): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort(), options.persistence ?? 'none');
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts (again) on the same port; resolves once Redis accepts connections. */
  restart(): Promise<void> {
    if (this.running) return Promise.resolve();
    const binary = redisServerBinary();
    if (!binary) throw new Error('redis-server is not installed (Debian package redis-server)');
    const child = spawn(
      binary,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        // No automatic snapshots: with `rdb` the test decides when one is taken (SAVE).
        '--save',
        '',
        ...persistenceArgs(this.persistence),
        '--dir',
        this.dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    return new Promise((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.resume();
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${out}`)));
    });
  }

  /** Kills Redis abruptly (SIGKILL) and waits until it is gone. */
  kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Freezes Redis (SIGSTOP): connections stay open but nothing is answered, like a hung server. */
  pause(): void {
    if (this.running) this.child?.kill('SIGSTOP');
  }

  /** Unfreezes a paused Redis (SIGCONT). */
  resume(): void {
    if (this.running) this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    this.child = undefined;
  }
}
