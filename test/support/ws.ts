import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import NodeWs from 'ws';

/**
 * The `ws` package's client, on every runtime. Under Bun, `import 'ws'` gives Bun's own
 * implementation of the package's API (native sockets, no `_socket`), which cannot write the
 * hand-made frames or pause the reads that some tests need; loading the package's file by its
 * path gives the package itself. The server under test keeps whatever `ws` its runtime gives.
 */
export const WebSocket: typeof NodeWs = process.versions.bun
  ? (createRequire(import.meta.url)(
      fileURLToPath(new URL('../../node_modules/ws/index.js', import.meta.url)),
    ) as typeof NodeWs)
  : NodeWs;
export type WebSocket = NodeWs;
