/**
 * `wirehub/client`: the typed client SDK for `/rt`, for browsers and Node. Everything but
 * `runEventSchema` comes from `browser.ts`, which has no zod, so it bundles small for the
 * browser (`GET /assets/wirehub-client.js` on every wirehub server).
 *
 * @example
 * ```ts
 * import { WirehubClient } from 'wirehub/client';
 * const client = new WirehubClient({ url: 'ws://127.0.0.1:8080' }); // Node 20: add { WebSocket } from 'ws'
 * await client.connect();
 * await client.subscribe('chat:lobby', (pub) => console.log(pub.data));
 * ```
 */

export * from './browser.js';
export { runEventSchema } from './run-event-schema.js';
