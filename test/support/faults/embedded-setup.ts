import { rmSync } from 'node:fs';
import { join } from 'node:path';
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
 * The embedded default: one `wirehub serve` with its SQLite data dir (channels.db, runs.db)
 * and its own task worker thread, restarted on the same data dir after a SIGKILL or a
 * SIGTERM.
 */
export class EmbeddedSetUp implements SetUp {
  readonly name = 'embedded';
  readonly faults: readonly SetUpFault[] = ['kill', 'term'];
  readonly nodes = 1;
  readonly lostStore = false;
  private readonly dir = tempDir('wirehub-faults-');
  private readonly node: CliProcess;

  constructor() {
    this.node = new CliProcess('node0', 'serve', [
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
    return kind === 'kill' || kind === 'term' ? ['node0'] : [];
  }

  entry(): Entry {
    return this.node.entry;
  }

  async start(): Promise<void> {
    await this.node.start();
  }

  async inject(fault: Fault): Promise<void> {
    await this.node.stop(fault.kind === 'term' ? 'SIGTERM' : 'SIGKILL');
  }

  async heal(): Promise<void> {
    await this.node.start();
  }

  ready(): Promise<void> {
    return this.node.ready();
  }

  logs(): string {
    return this.node.tail();
  }

  async stop(): Promise<void> {
    await this.node.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
