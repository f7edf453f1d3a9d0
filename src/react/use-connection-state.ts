import { useCallback, useSyncExternalStore } from 'react';
import type { ConnectionState, WirehubClient } from '../client/browser.js';
import { useWirehubClient } from './context.js';

/**
 * The client's connection state, re-rendering on every change: `idle`, `connecting`,
 * `connected`, `reconnecting` or `closed`.
 *
 * @example
 * ```tsx
 * const state = useConnectionState();
 * return <span className={state}>{state}</span>;
 * ```
 */
export function useConnectionState(client?: WirehubClient): ConnectionState {
  const c = useWirehubClient(client);
  const subscribe = useCallback((changed: () => void) => c.on('state', changed), [c]);
  return useSyncExternalStore(subscribe, () => c.state);
}
