import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { messagePortPort } from '../../src/engine/ipc/port.js';
import { RpcPeer } from '../../src/engine/ipc/rpc.js';
import { WirehubError } from '../../src/protocol/errors.js';
import { IpcRunStore, RunStoreHost } from '../../src/tasks/runs/ipc-run-store.js';
import { SqliteRunStore } from '../../src/tasks/runs/sqlite-run-store.js';
import { runRunStoreConformance } from '../support/run-store-conformance.js';
import { tempDir } from '../support/server.js';

const gone = () => new WirehubError('store_unavailable', 'the primary process is gone');

/**
 * Workers' run stores on MessageChannels to one primary's host over one SQLite file: the
 * pipe and code `--workers` uses between processes. `reopen` is another worker.
 */
runRunStoreConformance('ipc (workers) over sqlite', async (options) => {
  const host = new RunStoreHost(new SqliteRunStore(join(tempDir(), 'runs.db'), options));
  await host.start();
  const worker = () => {
    const { port1, port2 } = new MessageChannel();
    host.attach(new RpcPeer(messagePortPort(port1), gone));
    return new IpcRunStore(new RpcPeer(messagePortPort(port2), gone));
  };
  return { store: worker(), reopen: worker, teardown: () => host.close() };
});
