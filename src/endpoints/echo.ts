import { Frame } from '../hub/frame.js';
import type { Session } from '../hub/session.js';
import { type ConnectionHandlers, defineEndpoint } from './endpoint.js';

/**
 * One echo connection's handlers: an object with a method on the prototype, where a closure
 * over the session (with its context and the handlers object) cost each idle connection
 * three objects (bench/idle-census.ts: 128 bytes against 32). The session calls handlers as
 * methods.
 */
class EchoHandlers implements ConnectionHandlers {
  constructor(private readonly session: Session) {}

  message(data: string | Buffer, isBinary: boolean): void {
    this.session.send(isBinary ? Frame.binary(data as Buffer) : Frame.text(`Echo: ${data}`));
  }
}

/** `/echo`: text in, `Echo: <text>` out; binary frames come back unchanged, as binary. */
export const echoEndpoint = defineEndpoint({
  path: '/echo',
  name: 'echo',
  binary: true,
  open: (session) => new EchoHandlers(session),
});
