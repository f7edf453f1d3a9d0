/**
 * The client SDK without zod: everything `wirehub/client` exports but `runEventSchema`. It is
 * what browsers get (`GET /assets/wirehub-client.js`, the `browser` condition of
 * `wirehub/client`, and `wirehub/react`), kept small by importing only zod-free parts of the
 * protocol (test/unit/sdk-size.test.ts holds it to its budget).
 *
 * @example
 * ```ts
 * import { WirehubClient } from '/assets/wirehub-client.js';
 * const client = new WirehubClient(); // the page's own server
 * await client.subscribe('chat:lobby', (pub) => console.log(pub.data));
 * ```
 */

export { CloseCode, closeCodeInfo } from '../protocol/close-codes.js';
export { type ErrorCode, errorCatalog, WirehubError } from '../protocol/errors.js';
export { RT_SUBPROTOCOL } from '../protocol/rt-constants.js';
export {
  isTerminalRunStatus,
  RUN_STATUSES,
  type RunStatus,
  type TerminalRunStatus,
} from '../protocol/run-status.js';
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
export { type RunEvent, RunHandle, type RunOutcome, type RunRequest } from './run-handle.js';
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
