import { basicWsEndpoint } from './basic-ws.js';
import { broadcastEndpoint } from './broadcast.js';
import { chatEndpoint } from './chat.js';
import { echoEndpoint } from './echo.js';
import type { EndpointDefinition } from './endpoint.js';
import { type RtEndpointOptions, rtEndpoint } from './rt/rt-endpoint.js';
import { streamEndpoint } from './stream.js';

/** The seed's plain patterns and `/rt`, served by default. */
export function builtinEndpoints(rt: RtEndpointOptions = {}): EndpointDefinition<unknown>[] {
  return [basicWsEndpoint, echoEndpoint, broadcastEndpoint, streamEndpoint, chatEndpoint, rtEndpoint(rt)];
}
