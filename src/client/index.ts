/**
 * `wirehub/client`: the typed client SDK for `/rt`, for browsers and Node. It imports
 * nothing but the wire protocol (and zod), so it bundles for the browser as it is
 * (`GET /assets/wirehub-client.js` on every wirehub server).
 *
 * @example
 * ```ts
 * import { WirehubClient } from 'wirehub/client';
 * const client = new WirehubClient({ url: 'ws://127.0.0.1:8080' }); // Node 20: add { WebSocket } from 'ws'
 * await client.connect();
 * await client.subscribe('chat:lobby', (pub) => console.log(pub.data));
 * ```
 */

export {
  CloseCode,
  closeCodeInfo,
  type ErrorCode,
  errorCatalog,
  isTerminalRunStatus,
  RT_SUBPROTOCOL,
  RUN_STATUSES,
  type RunStatus,
  type TerminalRunStatus,
  WirehubError,
} from '../protocol/index.js';
export { type Backoff, backoffDelay, type ReconnectOptions, resolveBackoff } from './backoff.js';
export {
  type ClientEvents,
  type ConnectionState,
  type PresenceMember,
  type TokenSource,
  WirehubClient,
  type WirehubClientOptions,
} from './client.js';
export type { Off } from './emitter.js';
export { type RunEvent, RunHandle, type RunOutcome, type RunRequest, runEventSchema } from './run-handle.js';
export {
  type PresenceEvent,
  type Publication,
  type RecoveryInfo,
  type StreamPosition,
  type SubscribeOptions,
  Subscription,
  type SubscriptionState,
} from './subscription.js';
export { rtUrl, type WebSocketConstructor, type WebSocketLike } from './websocket.js';
