import { Frame } from '../hub/frame.js';
import { defineEndpoint } from './endpoint.js';

/** `/echo`: text in, `Echo: <text>` out; binary frames come back unchanged, as binary. */
export const echoEndpoint = defineEndpoint({
  path: '/echo',
  name: 'echo',
  binary: true,
  open: (session) => ({
    message(data, isBinary) {
      session.send(isBinary ? Frame.binary(data as Buffer) : Frame.text(`Echo: ${data}`));
    },
  }),
});
