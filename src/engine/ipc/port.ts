import type { MessagePort } from 'node:worker_threads';

/**
 * One end of a message pipe between two processes (or threads) of one server: what the IPC
 * engine and its host talk over. Messages arrive in the order they were sent; `onClose`
 * listeners run once when the other end is gone (its process exited), after which `send`
 * does nothing. `send` throws when a message cannot be serialised.
 */
export interface IpcPort {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onClose(listener: () => void): void;
  close(): void;
}

/** The parts of a `ChildProcess`, a cluster `Worker` or a child's own `process` a port uses. */
export interface ProcessChannel {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  disconnect?(): void;
  readonly connected?: boolean;
}

/**
 * A port over Node's IPC channel: `processPort(process)` in a worker process,
 * `processPort(cluster.fork())` in the primary. Other messages on the channel (cluster's own,
 * anything not tagged for wirehub) pass by untouched.
 *
 * @example
 * ```ts
 * const port = processPort(process); // in a worker started by the primary with an IPC channel
 * port.onMessage((m) => console.log(m));
 * ```
 */
export function processPort(channel: ProcessChannel): IpcPort {
  const TAG = 'wirehub';
  let open = true;
  const closers: (() => void)[] = [];
  const listeners: ((message: unknown) => void)[] = [];
  const onMessage = (raw: unknown) => {
    if (typeof raw !== 'object' || raw === null || (raw as { [TAG]?: unknown })[TAG] === undefined) return;
    const message = (raw as Record<string, unknown>)[TAG];
    for (const listener of listeners) listener(message);
  };
  const shut = () => {
    if (!open) return;
    open = false;
    channel.off('message', onMessage);
    for (const closer of closers) closer();
  };
  channel.on('message', onMessage);
  channel.on('disconnect', shut);
  return {
    send(message) {
      if (!open || channel.connected === false) return;
      // Throws when the message cannot be serialised (the caller fails that message alone).
      channel.send?.({ [TAG]: message });
    },
    onMessage(listener) {
      listeners.push(listener);
    },
    onClose(listener) {
      closers.push(listener);
    },
    close() {
      shut();
    },
  };
}

/** A port over a `MessagePort` (worker threads; a `MessageChannel` in tests). */
export function messagePortPort(port: MessagePort): IpcPort {
  let open = true;
  const closers: (() => void)[] = [];
  const shut = () => {
    if (!open) return;
    open = false;
    for (const closer of closers) closer();
  };
  port.on('close', shut);
  return {
    send(message) {
      if (open) port.postMessage(message);
    },
    onMessage(listener) {
      port.on('message', listener);
    },
    onClose(listener) {
      closers.push(listener);
    },
    close() {
      port.close();
      shut();
    },
  };
}
