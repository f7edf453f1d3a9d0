import type { Duplex } from 'node:stream';
import { Writable } from 'node:stream';
import * as ws from 'ws';

/**
 * Every connection `ws` closes calls `end()` three times on streams whose writable side has
 * already finished: twice on its `Receiver` (in its socket's 'end' and 'close' listeners,
 * after the close frame already ended it) and once on the socket (its 'end' listener, after
 * the closing handshake already sent our FIN). Such an `end()` does nothing but build an
 * `ERR_STREAM_ALREADY_FINISHED` (or `_DESTROYED`) with a captured stack trace, which nothing
 * sees when no callback is given: ~11-16% of the server's CPU per connect+close in a CPU
 * profile of `bench/compare.ts --profile churn`, raw `ws` included. These two shims skip
 * exactly that call and nothing else.
 */

type EndFn = (this: Writable, ...args: unknown[]) => Writable;

/**
 * `ws`'s Receiver: an argument-less `end()` on a stream already ending is a no-op in Node's
 * Writable apart from that error, so return as it would. Installed once, on `ws`'s own class
 * (used by `ws` only), when it is the Writable it was measured on (not under Bun, whose `ws`
 * is its own).
 */
export function quietReceiverEnd(): void {
  const Receiver = (ws as unknown as { Receiver?: { prototype: unknown } }).Receiver;
  const proto = Receiver?.prototype as (Writable & { [QUIET]?: true }) | undefined;
  if (!proto || !(proto instanceof Writable) || proto[QUIET]) return;
  if (proto.end !== Writable.prototype.end) return;
  const end = Writable.prototype.end as unknown as EndFn;
  Object.defineProperty(proto, QUIET, { value: true });
  Object.defineProperty(proto, 'end', {
    configurable: true,
    writable: true,
    value: function quietEnd(this: Writable, ...args: unknown[]): Writable {
      if (args.length === 0 && this.writableEnded) return this;
      return end.apply(this, args);
    },
  });
}

const QUIET = Symbol('wirehub.quietEnd');

/** `ws`'s 'end' listener on an upgraded socket (a module-level function: one for all sockets). */
let wsSocketOnEnd: ((this: Duplex) => void) | undefined;

/**
 * Swaps `ws`'s 'end' listener on a socket it has just taken for one that calls it without its
 * trailing `socket.end()` when our FIN is out already (the usual case: the closing handshake
 * ended the socket). Same number of listeners, so an idle connection is no bigger.
 */
export function quietSocketEnd(socket: Duplex): void {
  if (wsSocketOnEnd === undefined) {
    const found = socket.listeners('end').find((f) => f.name === 'socketOnEnd');
    if (!found) return;
    wsSocketOnEnd = found as (this: Duplex) => void;
  }
  socket.removeListener('end', wsSocketOnEnd);
  socket.on('end', onSocketEnd);
}

function onSocketEnd(this: Duplex): void {
  const wsListener = wsSocketOnEnd as (this: Duplex) => void;
  if (!this.writableFinished) {
    wsListener.call(this);
    return;
  }
  // Shadow `end` for this one call, as Node's net.js shadows `write` after a FIN.
  const self = this as Duplex & { end: unknown };
  self.end = endFinished;
  try {
    wsListener.call(this);
  } finally {
    delete (self as { end?: unknown }).end;
  }
}

/** `end()` on a socket whose writable side has finished: with no arguments, a no-op. */
function endFinished(this: Duplex, ...args: unknown[]): Duplex {
  if (args.length === 0) return this;
  const end = Object.getPrototypeOf(this).end as (...a: unknown[]) => Duplex;
  return end.apply(this, args);
}
