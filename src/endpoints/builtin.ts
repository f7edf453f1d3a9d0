import { basicWsEndpoint } from './basic-ws.js';
import { broadcastEndpoint } from './broadcast.js';
import { chatEndpoint } from './chat.js';
import { echoEndpoint } from './echo.js';
import type { EndpointDefinition } from './endpoint.js';
import { rtEndpoint } from './rt/rt-endpoint.js';
import { streamEndpoint } from './stream.js';

/** The seed's plain patterns, served by default. */
export const builtinEndpoints: EndpointDefinition<unknown>[] = [
  basicWsEndpoint,
  echoEndpoint,
  broadcastEndpoint,
  streamEndpoint,
  chatEndpoint,
  rtEndpoint,
];
