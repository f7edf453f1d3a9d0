/**
 * `wirehub/react`: React bindings for the wirehub client. React (18 or later) is a peer
 * dependency and is not bundled; the client is the zod-free browser SDK.
 *
 * @example
 * ```tsx
 * import { WirehubClient } from 'wirehub/client';
 * import { WirehubProvider, useChannel, useConnectionState, usePresence } from 'wirehub/react';
 *
 * const client = new WirehubClient(); // the page's own server
 * function Lobby() {
 *   const state = useConnectionState();
 *   const { publications, publish } = useChannel<string>('chat:lobby');
 *   const { members } = usePresence('chat:lobby');
 *   return <div>{state}, {members.length} here{publications.map((p) => <p key={p.offset}>{p.data}</p>)}</div>;
 * }
 * createRoot(el).render(<WirehubProvider client={client}><Lobby /></WirehubProvider>);
 * ```
 */

export { useWirehubClient, WirehubProvider, type WirehubProviderProps } from './context.js';
export type { ChannelStatus } from './shared-channel.js';
export { type ChannelView, type UseChannelOptions, useChannel } from './use-channel.js';
export { useConnectionState } from './use-connection-state.js';
export { type PresenceView, usePresence } from './use-presence.js';
export { type RunView, useRun } from './use-run.js';
