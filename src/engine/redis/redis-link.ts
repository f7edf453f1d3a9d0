import { Redis, type RedisOptions } from 'ioredis';
import { type Logger, silentLogger } from '../../util/logger.js';

export interface RedisLinkOptions {
  url: string;
  /** Names the connections in `CLIENT LIST` (`<name>:cmd`, `<name>:sub`). */
  name: string;
  /** Delay before reconnect attempt `n` (1, 2, …). */
  retryDelayMs: (attempt: number) => number;
  /** A command unanswered for this long fails (and counts as a broken link). */
  commandTimeoutMs: number;
  /** Interval of the PING that proves a quiet link is alive. */
  linkCheckMs: number;
  log?: Logger;
}

/** How the link tells its owner about changes. */
export interface RedisLinkEvents {
  /** A connection closed: the link is down until `ready`. */
  down(): void;
  /** Both connections are back after a `down` (the owner re-establishes its subscriptions). */
  ready(): void;
  /** A pub/sub message. */
  message(pubsubChannel: string, text: string): void;
}

/**
 * The node's two connections to Redis: `cmd` for commands and scripts, `sub` for pub/sub
 * (a subscribed connection can run nothing else). Both fail fast while disconnected (no
 * offline queue, commands in flight are rejected when the connection drops): callers see an
 * error at once instead of a publish that hangs or is replayed twice after a reconnect. Both
 * reconnect by themselves; subscriptions are restored by the owner (`ready`), not by ioredis,
 * so it can catch up from history in the right order.
 */
export class RedisLink {
  readonly cmd: Redis;
  readonly sub: Redis;
  private events: RedisLinkEvents | undefined;
  private down = false;
  /**
   * Connections this link dropped whose socket has not closed yet. A hung peer does not
   * answer the close either, so ioredis keeps the socket (status `ready`) until its
   * disconnect timeout destroys it; dropping it again meanwhile would add a listener and a
   * timer each time. One drop per socket: cleared when that socket closes.
   */
  private readonly dropping = new Set<Redis>();
  private closing = false;
  private checkTimer: NodeJS.Timeout | undefined;
  private lastError: Error | undefined;
  private readonly log: Logger;
  /** The `run_id` of the Redis process behind the current command connection (see `runId`). */
  private run: Promise<string> | undefined;
  private warnedNoRunId = false;

  constructor(private readonly options: RedisLinkOptions) {
    this.log = options.log ?? silentLogger;
    const base: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs,
      keepAlive: 10_000,
      retryStrategy: (attempt) => options.retryDelayMs(attempt),
    };
    // Auto-pipelining: the commands of one event-loop turn (a burst of publishes, the
    // presence refresh of every channel) go out in one write and one round trip.
    this.cmd = new Redis(options.url, {
      ...base,
      connectionName: `${options.name}:cmd`,
      enableAutoPipelining: true,
    });
    this.sub = new Redis(options.url, { ...base, connectionName: `${options.name}:sub` });
    // A new connection may reach another Redis process (a restart, a failover): ask again.
    this.cmd.on('close', () => {
      this.run = undefined;
    });
  }

  /**
   * The `run_id` of the Redis process the command connection is on, read with `INFO server`
   * once per connection (before the first command that needs it is sent on it). It changes
   * when Redis restarts (even from RDB/AOF) or fails over to a replica: the engine's scripts
   * compare it with the one stored with each stream, and start a new epoch for a stream a
   * previous process wrote (see scripts.ts). `''` when INFO is refused (an ACL): detection is
   * then off, which is logged once.
   */
  runId(): Promise<string> {
    if (this.run) return this.run;
    const run = this.cmd.info('server').then(
      (info) => /^run_id:([0-9a-f]+)/m.exec(info)?.[1] ?? this.noRunId('INFO server has no run_id'),
      (err: unknown) => {
        if (this.run === run) this.run = undefined;
        const message = err instanceof Error ? err.message : String(err);
        if (message.includes('NOPERM')) return this.noRunId(message);
        throw err;
      },
    );
    this.run = run;
    return run;
  }

  private noRunId(reason: string): string {
    if (!this.warnedNoRunId) {
      this.warnedNoRunId = true;
      this.log.warn(
        { reason },
        'cannot read the run_id of Redis: a Redis restored from RDB/AOF or failed over may hand out offsets again (allow INFO for this user)',
      );
    }
    return '';
  }

  /** True while both connections are ready (and neither is being dropped). */
  get connected(): boolean {
    return this.cmd.status === 'ready' && this.sub.status === 'ready' && this.dropping.size === 0;
  }

  /** Connects both; rejects with the reason (e.g. ECONNREFUSED) when Redis cannot be reached. */
  async connect(events: RedisLinkEvents): Promise<void> {
    this.events = events;
    for (const conn of [this.cmd, this.sub]) {
      conn.on('error', (err: Error) => {
        this.lastError = err;
        this.log.debug({ err: err.message }, 'redis connection error');
      });
    }
    try {
      await Promise.all([this.cmd.connect(), this.sub.connect()]);
    } catch (err) {
      this.cmd.disconnect();
      this.sub.disconnect();
      const reason = this.lastError?.message ?? (err instanceof Error ? err.message : String(err));
      throw new Error(`cannot connect to Redis at ${redact(this.options.url)}: ${reason}`);
    }
    for (const conn of [this.cmd, this.sub]) {
      conn.on('close', () => {
        this.dropping.delete(conn);
        this.onClose();
      });
      conn.on('ready', () => this.onReady());
    }
    this.sub.on('message', (channel: string, text: string) => this.events?.message(channel, text));
    this.checkTimer = setInterval(() => this.check(), this.options.linkCheckMs);
    this.checkTimer.unref();
  }

  /** Drops and re-opens both connections (as a broken link would). */
  reconnect(): void {
    this.drop(this.cmd);
    this.drop(this.sub);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.checkTimer);
    await Promise.all([quit(this.cmd), quit(this.sub)]);
  }

  private onClose(): void {
    if (this.closing) return;
    // One connection dropped: drop the other too, so the recovery starts from a clean slate
    // (no subscription left over on a subscriber connection that stayed up).
    for (const conn of [this.cmd, this.sub]) if (conn.status === 'ready') this.drop(conn);
    this.markDown();
  }

  /**
   * Closes a connection's socket so that ioredis opens a new one, once per socket (see
   * `dropping`), and reports the link down at once: a socket to a hung Redis may take the
   * disconnect timeout to close, and commands must not wait for it.
   */
  private drop(conn: Redis): void {
    if (this.dropping.has(conn)) return;
    if (conn.status !== 'ready' && conn.status !== 'connect' && conn.status !== 'connecting') return;
    this.dropping.add(conn);
    conn.disconnect(true);
    if (!this.closing) this.markDown();
  }

  private markDown(): void {
    if (this.down) return;
    this.down = true;
    this.log.warn({ reason: this.lastError?.message }, 'redis link down');
    this.events?.down();
  }

  private onReady(): void {
    if (this.closing || !this.down || !this.connected) return;
    this.down = false;
    this.log.info('redis link back');
    this.events?.ready();
  }

  /**
   * A link that stopped answering without closing (a hung Redis, a silent network) is
   * dropped and re-opened, which the owner then sees as down and ready again.
   */
  private check(): void {
    if (!this.connected) return;
    for (const conn of [this.cmd, this.sub]) {
      if (this.dropping.has(conn)) continue;
      conn.ping().catch((err: unknown) => {
        if (this.closing || conn.status !== 'ready' || this.dropping.has(conn)) return;
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis ping failed');
        this.drop(conn);
      });
    }
  }
}

async function quit(conn: Redis): Promise<void> {
  if (conn.status === 'ready') {
    try {
      await conn.quit();
      return;
    } catch {}
  }
  conn.disconnect();
}

/** The URL without its password, for messages and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
