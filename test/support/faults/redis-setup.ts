import { rmSync } from 'node:fs';
import { type RedisPersistence, RedisProcess } from '../redis.js';
import { TcpProxy } from '../tcp-proxy.js';
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

/** A dead worker's run is noticed in about a second, not the default 30 s. */
const FAST_STALL = ['--lock-duration', '1s', '--stalled-interval', '300ms'];

/**
 * `wirehub serve --redis` nodes on their own redis-server (with or without persistence),
 * each reaching Redis through its own TCP proxy (so one node's link can be cut or hung), and
 * one `wirehub worker` that runs the tasks (the nodes run none), as an operator would deploy
 * it.
 */
export class RedisSetUp implements SetUp {
  readonly name: string;
  readonly faults: readonly SetUpFault[] = ['kill', 'term', 'kill-redis', 'cut-link', 'hang-link'];
  private readonly dir = tempDir('wirehub-faults-');
  private redis: RedisProcess | undefined;
  private readonly proxies: TcpProxy[] = [];
  private readonly processes: CliProcess[] = [];
  private worker: CliProcess | undefined;
  private wiped = false;

  constructor(
    readonly nodes: number,
    private readonly persistence: RedisPersistence,
  ) {
    this.name = `redis-${nodes}-nodes-${persistence}`;
  }

  get lostStore(): boolean {
    return this.wiped;
  }

  targets(kind: SetUpFault): string[] {
    const nodes = Array.from({ length: this.nodes }, (_, i) => `node${i}`);
    switch (kind) {
      case 'kill':
        return [...nodes, 'worker'];
      case 'term':
        return nodes;
      case 'kill-redis':
        return ['redis'];
      case 'cut-link':
      case 'hang-link':
        return Array.from({ length: this.nodes }, (_, i) => `link${i}`);
    }
  }

  entry(i: number): Entry {
    const node = this.processes[i];
    if (!node) throw new Error(`no node ${i}`);
    return node.entry;
  }

  async start(): Promise<void> {
    const redis = await RedisProcess.start({ persistence: this.persistence });
    this.redis = redis;
    const namespaces = writeNamespacesFile(this.dir);
    for (let i = 0; i < this.nodes; i += 1) {
      const proxy = await TcpProxy.start(redis.port);
      this.proxies.push(proxy);
      this.processes.push(
        new CliProcess(`node${i}`, 'serve', [
          '--redis',
          `redis://127.0.0.1:${proxy.port}`,
          '--data-dir',
          `${this.dir}/node${i}`,
          '--namespaces',
          namespaces,
          '--task-workers',
          '0',
          // A run whose job Redis lost (AOF everysec, or no persistence) is taken over in seconds.
          '--orphan-grace',
          '2s',
          ...COMMON_SERVE_FLAGS,
        ]),
      );
    }
    this.worker = new CliProcess('worker', 'worker', [
      '--redis',
      redis.url,
      '--concurrency',
      '2',
      ...FAST_STALL,
      // (info: the worker says when it is ready.)
      '--log-level',
      'info',
    ]);
    await Promise.all([...this.processes, this.worker].map((p) => p.start()));
  }

  async inject(fault: Fault): Promise<void> {
    switch (fault.kind) {
      case 'kill':
      case 'term':
        await this.process(fault.target).stop(fault.kind === 'kill' ? 'SIGKILL' : 'SIGTERM');
        return;
      case 'kill-redis':
        await this.requireRedis().kill();
        if (this.persistence === 'none') this.wiped = true;
        return;
      case 'cut-link':
        this.proxy(fault.target).block();
        return;
      case 'hang-link':
        this.proxy(fault.target).freeze();
        return;
    }
  }

  async heal(fault: Fault): Promise<void> {
    switch (fault.kind) {
      case 'kill':
      case 'term':
        await this.process(fault.target).start();
        return;
      case 'kill-redis':
        await this.requireRedis().restart();
        return;
      case 'cut-link':
        this.proxy(fault.target).unblock();
        return;
      case 'hang-link':
        this.proxy(fault.target).thaw();
        return;
    }
  }

  async ready(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.ready()));
  }

  logs(): string {
    return [...this.processes, ...(this.worker ? [this.worker] : [])].map((p) => p.tail()).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.processes, ...(this.worker ? [this.worker] : [])].map((p) => p.stop('SIGKILL')),
    );
    for (const proxy of this.proxies) await proxy.close();
    await this.redis?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private process(target: string): CliProcess {
    const found = target === 'worker' ? this.worker : this.processes[Number(target.replace('node', ''))];
    if (!found) throw new Error(`no process ${target}`);
    return found;
  }

  private proxy(target: string): TcpProxy {
    const found = this.proxies[Number(target.replace('link', ''))];
    if (!found) throw new Error(`no link ${target}`);
    return found;
  }

  private requireRedis(): RedisProcess {
    if (!this.redis) throw new Error('the set-up is not started');
    return this.redis;
  }
}
