import { io, type Socket } from 'socket.io-client';
import type { BenchSocket, Driver } from '../../src/cli/bench/driver.js';

class SocketIoBenchSocket implements BenchSocket {
  onMessage: (text: string) => void = () => {};
  onClose: (code: number) => void = () => {};
  private readonly gone: Promise<void>;

  constructor(private readonly socket: Socket) {
    socket.on('message', (text: unknown) => this.onMessage(String(text)));
    this.gone = new Promise((resolve) => {
      socket.on('disconnect', (reason) => {
        this.onClose(reason === 'io client disconnect' ? 1000 : 1006);
        resolve();
      });
    });
  }

  send(text: string): void {
    this.socket.send(text);
  }

  close(): Promise<void> {
    if (this.socket.connected) this.socket.disconnect();
    else this.socket.io.engine?.close();
    return this.gone;
  }

  terminate(): void {
    this.socket.io.engine?.close();
    this.socket.disconnect();
  }
}

/**
 * Socket.IO through socket.io-client, websocket transport only: the URL's path is the
 * namespace (`http://host:port/echo` → namespace `/echo`), and messages are `message`
 * events (`socket.send`).
 */
export const socketIoDriver: Driver = {
  name: 'socket.io-client',
  connect(url, options) {
    return new Promise((resolve, reject) => {
      const socket = io(url.replace(/^ws/, 'http'), {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        timeout: options.timeoutMs,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      });
      socket.once('connect', () => {
        socket.off('connect_error');
        resolve(new SocketIoBenchSocket(socket));
      });
      socket.once('connect_error', (err) => {
        socket.close();
        reject(err);
      });
    });
  },
};
