import { createContext, createElement, type ReactNode, useContext, useEffect } from 'react';
import type { WirehubClient } from '../client/browser.js';

const WirehubContext = createContext<WirehubClient | undefined>(undefined);

export interface WirehubProviderProps {
  /** The client every hook below uses (unless a hook is given its own). */
  client: WirehubClient;
  /** Connect at once, so the connection state is live before the first subscription (default true). */
  connect?: boolean;
  children?: ReactNode;
}

/**
 * Hands a {@link WirehubClient} to the hooks below it. The provider does not close the client:
 * the app owns it (make it once, outside the component tree).
 *
 * @example
 * ```tsx
 * const client = new WirehubClient();
 * createRoot(el).render(<WirehubProvider client={client}><App /></WirehubProvider>);
 * ```
 */
export function WirehubProvider({ client, connect = true, children }: WirehubProviderProps): ReactNode {
  useEffect(() => {
    if (!connect) return;
    // A failure to connect for good shows in the connection state (`closed`).
    client.connect().catch(() => {});
  }, [client, connect]);
  return createElement(WirehubContext.Provider, { value: client }, children);
}

/**
 * The client given, else the one of the nearest {@link WirehubProvider}.
 *
 * @example
 * ```ts
 * const client = useWirehubClient();
 * await client.publish('chat:lobby', 'hi');
 * ```
 */
export function useWirehubClient(client?: WirehubClient): WirehubClient {
  const fromContext = useContext(WirehubContext);
  const chosen = client ?? fromContext;
  if (!chosen) {
    throw new TypeError(
      'no wirehub client: render inside <WirehubProvider client={…}> or pass { client } to the hook',
    );
  }
  return chosen;
}
