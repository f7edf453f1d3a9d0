import { useEffect, useState } from 'react';
import type { PresenceMember, WirehubClient, WirehubError } from '../client/browser.js';
import { useWirehubClient } from './context.js';
import { type ChannelStatus, joinChannel } from './shared-channel.js';

export interface PresenceView {
  /** Who is in the channel now (this client too, once subscribed). */
  members: PresenceMember[];
  status: ChannelStatus;
  error: WirehubError | undefined;
}

/**
 * Who is in a channel (namespaces with presence, e.g. `chat:*`), kept current: it subscribes
 * (sharing the subscription with `useChannel` on the same channel) and asks the server again
 * on every join, leave and reconnect.
 *
 * @example
 * ```tsx
 * const { members } = usePresence('chat:lobby');
 * return <ul>{members.map((m) => <li key={m.client}>{m.user ?? m.client}</li>)}</ul>;
 * ```
 */
export function usePresence(
  channel: string | undefined,
  options: { client?: WirehubClient } = {},
): PresenceView {
  const client = useWirehubClient(options.client);
  const [members, setMembers] = useState<PresenceMember[]>([]);
  const [status, setStatus] = useState<ChannelStatus>('subscribing');
  const [error, setError] = useState<WirehubError | undefined>(undefined);

  useEffect(() => {
    setMembers([]);
    setError(undefined);
    setStatus('subscribing');
    if (channel === undefined) return;
    let asked = 0;
    let active = true;
    // Answers may cross: only the latest question's answer is shown.
    const refresh = () => {
      const mine = ++asked;
      client.presence(channel).then(
        (list) => {
          if (active && mine === asked) setMembers(list);
        },
        (err: WirehubError) => {
          if (active && mine === asked && err.code !== 'disconnected') setError(err);
        },
      );
    };
    const leave = joinChannel(client, channel, {
      join: refresh,
      leave: refresh,
      recovery: refresh,
      status: (s, err) => {
        setStatus(s);
        setError(err);
        if (s === 'subscribed') refresh();
      },
    });
    return () => {
      active = false;
      leave();
    };
  }, [client, channel]);

  return { members, status, error };
}
