import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './server.js';

/**
 * Two connected ends of a Unix socket, as the primary and a worker hold their link: a real
 * byte stream (chunks cut where the kernel cuts them), for tests of `streamPort`.
 */
export async function socketPair(): Promise<[Socket, Socket]> {
  const path = join(tempDir(), 'link.sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const [accepted, connected] = await Promise.all([
    new Promise<Socket>((resolve) => server.once('connection', resolve)),
    new Promise<Socket>((resolve) => {
      const socket = connect(path, () => resolve(socket));
    }),
  ]);
  server.close();
  return [accepted, connected];
}
