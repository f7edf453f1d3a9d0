import { Frame } from '../hub/frame.js';
import type { Encoder } from '../hub/hub.js';

/** Plain endpoints (`/chat`, `/broadcast`): strings as they are, anything else as JSON text. */
export const plainTextEncoder: Encoder = {
  name: 'plain',
  encode: (pub) => Frame.text(typeof pub.data === 'string' ? pub.data : JSON.stringify(pub.data)),
};

/** Endpoints whose publications are already the JSON message the client gets (`/ws`). */
export const jsonDataEncoder: Encoder = {
  name: 'json-data',
  encode: (pub) => Frame.json(pub.data),
};
