import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { EngineHost } from '../../src/engine/ipc/engine-host.js';
import { IpcEngine } from '../../src/engine/ipc/ipc-engine.js';
import { type IpcPort, messagePortPort, streamPort } from '../../src/engine/ipc/port.js';
import { RpcPeer } from '../../src/engine/ipc/rpc.js';
import type { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { SqliteEngine } from '../../src/engine/sqlite/sqlite-engine.js';
import type { Engine } from '../../src/engine/types.js';
import { WirehubError } from '../../src/protocol/errors.js';
import { runEngineConformance } from '../support/engine-conformance.js';
import { socketPair } from '../support/socket-pair.js';

const dir = mkdtempSync(join(tmpdir(), 'wirehub-ipc-'));
const gone = () => new WirehubError('store_unavailable', 'the primary process is gone');
const hosts = new WeakMap<Engine, EngineHost>();

/** The two ends of a link between a worker and the primary. */
type Link = () => Promise<[IpcPort, IpcPort]>;

/** In one process: the primary's own hub reaches its host over a MessageChannel. */
const messageChannel: Link = async () => {
  const { port1, port2 } = new MessageChannel();
  return [messagePortPort(port1), messagePortPort(port2)];
};

/** Between processes: a worker's link to the primary, a socket pair (frames as bytes). */
const socketLink: Link = async () => {
  const [a, b] = await socketPair();
  return [streamPort(a), streamPort(b)];
};

/**
 * A worker's engine on one end of a link, the primary's host on the other, over a SQLite
 * store: the same code `--workers` uses. Closing the worker's engine closes the host too (one
 * worker per store in these tests).
 */
function opener(link: Link, prefix: string) {
  return async (store: string): Promise<Engine> => {
    const host = new EngineHost(
      new SqliteEngine({ file: join(dir, `${prefix}-${store}.db`), bootId: () => 'test-boot' }),
    );
    await host.start();
    const [primarySide, workerSide] = await link();
    host.attach(new RpcPeer(primarySide, gone));
    const engine = new IpcEngine(new RpcPeer(workerSide, gone));
    const close = engine.close.bind(engine);
    engine.close = async () => {
      await close();
      await host.close();
    };
    hosts.set(engine, host);
    return engine;
  };
}

const sweep = (engine: Engine, now: number) =>
  (hosts.get(engine)?.engine as unknown as MemoryEngine | undefined)?.sweep(now);

runEngineConformance(opener(messageChannel, 'mc'), {
  name: 'ipc (workers) over sqlite, message channel',
  durable: true,
  sweep,
});
runEngineConformance(opener(socketLink, 'sock'), {
  name: 'ipc (workers) over sqlite, socket link',
  durable: true,
  sweep,
});
