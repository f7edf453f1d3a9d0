import { useCallback, useEffect, useRef, useState } from 'react';
import type {
  Publication,
  RecoveryInfo,
  StreamPosition,
  WirehubClient,
  WirehubError,
} from '../client/browser.js';
import type { RtPublishResult } from '../protocol/rt.js';
import { useWirehubClient } from './context.js';
import { type ChannelStatus, joinChannel } from './shared-channel.js';

export interface UseChannelOptions<T> {
  /** The client to use instead of the provider's. */
  client?: WirehubClient;
  /** How many of the latest publications `publications` keeps (default 100; 0 keeps none). */
  keep?: number;
  /** Start after this position (the server replays what came after it). */
  since?: StreamPosition;
  /** Called with every publication, in order (also those beyond `keep`). */
  onPublication?: (publication: Publication<T>) => void;
}

export interface ChannelView<T> {
  /** The latest publications, oldest first: live ones and, after a reconnect, the missed ones. */
  publications: Publication<T>[];
  /** `subscribing` until the server confirmed, `error` when it refused (see `error`). */
  status: ChannelStatus;
  error: WirehubError | undefined;
  /**
   * The last recovery: after every reconnect (and a first subscribe with `since`), whether
   * the publications missed meanwhile were replayed (`recovered`) and how many.
   */
  recovery: RecoveryInfo | undefined;
  /** Publishes to the channel; resolves with its position on channels with history. */
  publish(data: T): Promise<RtPublishResult>;
}

/**
 * Subscribes to a channel while the component is mounted and re-renders with its publications
 * and recovery state. Components on the same channel share one subscription. `channel`
 * undefined subscribes to nothing.
 *
 * @example
 * ```tsx
 * function Room({ name }: { name: string }) {
 *   const { publications, status, recovery, publish } = useChannel<string>(`chat:${name}`);
 *   if (recovery && !recovery.recovered) console.log('some messages were missed');
 *   return <>{publications.map((p) => <p key={p.offset}>{p.data}</p>)}<button onClick={() => publish('hi')}>hi</button></>;
 * }
 * ```
 */
export function useChannel<T = unknown>(
  channel: string | undefined,
  options: UseChannelOptions<T> = {},
): ChannelView<T> {
  const client = useWirehubClient(options.client);
  const keep = options.keep ?? 100;
  const [publications, setPublications] = useState<Publication<T>[]>([]);
  const [status, setStatus] = useState<ChannelStatus>('subscribing');
  const [error, setError] = useState<WirehubError | undefined>(undefined);
  const [recovery, setRecovery] = useState<RecoveryInfo | undefined>(undefined);
  // Read at call time, so a new callback or `since` object does not resubscribe.
  const latest = useRef(options);
  latest.current = options;

  useEffect(() => {
    setPublications([]);
    setRecovery(undefined);
    setError(undefined);
    setStatus('subscribing');
    if (channel === undefined) return;
    return joinChannel(
      client,
      channel,
      {
        publication: (pub) => {
          const typed = pub as Publication<T>;
          latest.current.onPublication?.(typed);
          if (keep > 0) setPublications((list) => [...list, typed].slice(-keep));
        },
        recovery: setRecovery,
        status: (s, err) => {
          setStatus(s);
          setError(err);
        },
      },
      latest.current.since,
    );
  }, [client, channel, keep]);

  const publish = useCallback(
    (data: T) =>
      channel === undefined
        ? Promise.reject(new TypeError('useChannel: no channel to publish to'))
        : client.publish(channel, data),
    [client, channel],
  );
  return { publications, status, error, recovery, publish };
}
