import type { Worker } from 'node:cluster';
import { connect, Socket } from 'node:net';
import { type ByteStream, type IpcPort, streamPort } from '../../engine/ipc/port.js';

/**
 * The worker's link to the primary: a socket pair the primary opens as the worker's stdio
 * entry after Node's IPC channel (which stays for `node:cluster`'s own messages and
 * prom-client's). Its own stream, so wirehub's frames cross as written (see `streamPort`).
 */
const WORKER_LINK_FD = 4;

/** What the primary forks its workers with: stdio as before (inherited), the IPC channel, the link. */
export const WORKER_STDIO = ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'] as const;

/** In the primary: the port of one forked worker's link. */
export function primarySideOf(worker: Worker): IpcPort {
  const stream = worker.process.stdio[WORKER_LINK_FD];
  if (!stream) throw new Error('the worker was forked without its link to the primary');
  return streamPort(stream as unknown as ByteStream);
}

/** In a worker: the port of its link to the primary. */
export function workerSide(): IpcPort {
  // Node wraps an inherited fd with `new Socket({ fd })`; Bun's `net` closes such a socket at
  // once and takes the fd through `connect` instead (which Node refuses without a port or path).
  const socket = process.versions.bun
    ? connect({ fd: WORKER_LINK_FD } as unknown as Parameters<typeof connect>[0])
    : new Socket({ fd: WORKER_LINK_FD, readable: true, writable: true });
  return streamPort(socket);
}

/** How long a worker whose link closed may take to exit on its own before the primary ends it. */
export const LINK_GRACE_MS = 2_000;

/**
 * In the primary: a worker whose link closed while its process lives on (the link broke: a
 * damaged frame, a closed descriptor) can reach no store, so it would accept clients it
 * cannot serve. Unless it exits on its own within {@link LINK_GRACE_MS} (it normally does:
 * a link closes because its process ended, or the worker sees the break and exits), it is
 * killed, and the primary starts another as after any worker exit.
 */
export function endWorkerWithoutLink(
  worker: { isDead(): boolean; readonly process: { kill(signal: NodeJS.Signals): boolean } },
  stopping: () => boolean,
  onKill: () => void,
): void {
  if (stopping() || worker.isDead()) return;
  setTimeout(() => {
    if (stopping() || worker.isDead()) return;
    onKill();
    worker.process.kill('SIGKILL');
  }, LINK_GRACE_MS).unref();
}
