import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { EngineHost } from '../../src/engine/ipc/engine-host.js';
import { IpcEngine } from '../../src/engine/ipc/ipc-engine.js';
import { messagePortPort } from '../../src/engine/ipc/port.js';
import { RpcPeer } from '../../src/engine/ipc/rpc.js';
import type { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { SqliteEngine } from '../../src/engine/sqlite/sqlite-engine.js';
import type { Engine } from '../../src/engine/types.js';
import { WirehubError } from '../../src/protocol/errors.js';
import { runEngineConformance } from '../support/engine-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'wirehub-ipc-'));
const gone = () => new WirehubError('store_unavailable', 'the primary process is gone');
const hosts = new WeakMap<Engine, EngineHost>();

/**
 * A worker's engine on one end of a MessageChannel, the primary's host on the other, over a
 * SQLite store: the same pipe and code `--workers` uses between processes. Closing the
 * worker's engine closes the host too (one worker per store in these tests).
 */
async function open(store: string): Promise<Engine> {
  const host = new EngineHost(
    new SqliteEngine({ file: join(dir, `${store}.db`), bootId: () => 'test-boot' }),
  );
  await host.start();
  const { port1, port2 } = new MessageChannel();
  host.attach(new RpcPeer(messagePortPort(port1), gone));
  const engine = new IpcEngine(new RpcPeer(messagePortPort(port2), gone));
  const close = engine.close.bind(engine);
  engine.close = async () => {
    await close();
    await host.close();
  };
  hosts.set(engine, host);
  return engine;
}

runEngineConformance(open, {
  name: 'ipc (workers) over sqlite',
  durable: true,
  sweep: (engine, now) => (hosts.get(engine)?.engine as unknown as MemoryEngine | undefined)?.sweep(now),
});
