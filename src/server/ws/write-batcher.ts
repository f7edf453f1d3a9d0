import type { Duplex } from 'node:stream';

/**
 * Coalesces the writes of one event-loop turn: the first write to a socket corks it and all
 * corked sockets are uncorked together after the current tick, so a burst of frames to
 * one client leaves in one writev syscall instead of one syscall per frame.
 */
export class WriteBatcher {
  private corked: Duplex[] = [];
  private scheduled = false;
  private readonly flush = () => {
    const sockets = this.corked;
    this.corked = [];
    this.scheduled = false;
    for (const socket of sockets) socket.uncork();
  };

  write(socket: Duplex, bytes: Uint8Array): void {
    if (socket.writableCorked === 0) {
      socket.cork();
      this.corked.push(socket);
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.flush);
      }
    }
    socket.write(bytes);
  }
}
