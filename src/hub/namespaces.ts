import { z } from 'zod';
import type { HistoryPolicy } from '../engine/types.js';
import {
  CHANNEL_NAME_RULE,
  channelNamespace,
  defaults,
  isChannelName,
  WirehubError,
} from '../protocol/index.js';
import type { OverflowPolicy } from './session.js';

/** Who may publish to a namespace's channels: any client, or only the server (REST, tasks, code). */
export type PublishPermission = 'anyone' | 'server';

/**
 * How the channels of one namespace behave. Configured per server; the built-in ones
 * ({@link builtinNamespaces}) can be replaced by giving the same `pattern`.
 *
 * @example
 * ```ts
 * const server = await createServer({
 *   namespaces: [{ pattern: 'prices:*', history: { size: 10, ttlMs: 60_000 }, publish: 'server' }],
 * });
 * ```
 */
export interface NamespaceConfig {
  /** `name` (exactly that channel) or `name:*` (every channel `name:<something>`). */
  pattern: string;
  /** Keep history (size and age bounds), or `false` (default): no offsets, no recovery. */
  history?: HistoryPolicy | false;
  /** Track who is subscribed (`presence` command and REST). Default false. */
  presence?: boolean;
  /** Push `join`/`leave` to `/rt` subscribers. Default: same as `presence`. */
  joinLeave?: boolean;
  /**
   * Debounce of join/leave pushes in ms: changes are announced together at the end of the next
   * window of this length (one to two debounces later); a leave and rejoin inside it cancel out.
   * 0 announces each at once. Default 1000.
   */
  joinLeaveDebounceMs?: number;
  /** Who may publish. Default `anyone`. */
  publish?: PublishPermission;
  /** What a slow subscriber costs: `disconnect` (4008, default) or `drop` (live data). */
  overflow?: OverflowPolicy;
}

/** A namespace with every default filled in. */
export interface Namespace {
  readonly pattern: string;
  readonly history: HistoryPolicy | undefined;
  readonly presence: boolean;
  readonly joinLeave: boolean;
  readonly joinLeaveDebounceMs: number;
  readonly publish: PublishPermission;
  readonly overflow: OverflowPolicy;
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * The namespaces every server has: chat rooms (`/chat/{room}` is `chat:{room}`), `broadcast`
 * (the `/broadcast` endpoint), task runs (`run:<id>`, written by the task runner only),
 * live streams (`stream:*`, samples that supersede each other) and `ws` (the `/ws` app).
 */
export const builtinNamespaces: readonly NamespaceConfig[] = [
  { pattern: 'chat:*', history: { size: 100, ttlMs: DAY }, presence: true },
  { pattern: 'broadcast' },
  { pattern: 'run:*', history: { size: 100_000, ttlMs: 7 * DAY }, publish: 'server' },
  { pattern: 'stream:*', overflow: 'drop' },
  // Presence of `ws` is the /ws connection count, cluster-wide; nobody asked for join/leave.
  { pattern: 'ws', publish: 'server', presence: true, joinLeave: false },
];

const PATTERN = /^[A-Za-z0-9_.-]{1,64}(:\*)?$/;

/** The shape of a namespace config in a JSON file (`wirehub serve --namespaces file.json`). */
export const namespaceConfigSchema = z.strictObject({
  pattern: z.string().regex(PATTERN, 'a pattern is <name> or <name>:*'),
  history: z
    .union([z.literal(false), z.strictObject({ size: z.int().min(1), ttlMs: z.int().min(1) })])
    .optional(),
  presence: z.boolean().optional(),
  joinLeave: z.boolean().optional(),
  joinLeaveDebounceMs: z.int().min(0).optional(),
  publish: z.enum(['anyone', 'server']).optional(),
  overflow: z.enum(['drop', 'disconnect']).optional(),
});

/**
 * Validates namespace configs read from JSON (an array of {@link NamespaceConfig}); throws a
 * `bad_request` WirehubError that names each wrong field.
 */
export function parseNamespaceConfigs(json: unknown): NamespaceConfig[] {
  const parsed = z.array(namespaceConfigSchema).safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(top)'}: ${i.message}`);
  throw new WirehubError('bad_request', `bad namespace config: ${problems.join('; ')}`);
}

function resolve(config: NamespaceConfig): Namespace {
  if (!PATTERN.test(config.pattern)) {
    throw new WirehubError('bad_request', `namespace pattern "${config.pattern}" must be <name> or <name>:*`);
  }
  const history = config.history === false ? undefined : config.history;
  if (history && !(history.size >= 1 && history.ttlMs >= 1)) {
    throw new WirehubError(
      'bad_request',
      `namespace ${config.pattern}: history size and ttlMs must be at least 1`,
    );
  }
  const presence = config.presence ?? false;
  return {
    pattern: config.pattern,
    history: history ? { size: history.size, ttlMs: history.ttlMs } : undefined,
    presence,
    joinLeave: presence && (config.joinLeave ?? true),
    joinLeaveDebounceMs: config.joinLeaveDebounceMs ?? defaults.joinLeaveDebounceMs,
    publish: config.publish ?? 'anyone',
    overflow: config.overflow ?? 'disconnect',
  };
}

/**
 * The server's channel namespaces: finds the one a channel belongs to. Configs given here
 * replace built-in ones with the same pattern and add the others.
 */
export class Namespaces {
  private readonly exact = new Map<string, Namespace>();
  private readonly prefixed = new Map<string, Namespace>();
  /** Resolved channels: publish() resolves on every call, so skip the regex for known names. */
  private readonly resolved = new Map<string, Namespace>();

  constructor(configs: readonly NamespaceConfig[] = [], options: { builtins?: boolean } = {}) {
    for (const config of [...(options.builtins === false ? [] : builtinNamespaces), ...configs]) {
      const ns = resolve(config);
      if (ns.pattern.endsWith(':*')) this.prefixed.set(ns.pattern.slice(0, -2), ns);
      else this.exact.set(ns.pattern, ns);
    }
  }

  /** Every namespace, built-in ones included. */
  list(): Namespace[] {
    return [...this.exact.values(), ...this.prefixed.values()];
  }

  /** The namespace of a well-formed channel name, or undefined when none matches. */
  find(channel: string): Namespace | undefined {
    if (channel.includes(':')) return this.prefixed.get(channelNamespace(channel));
    return this.exact.get(channel);
  }

  /**
   * The namespace of `channel`; throws `bad_channel` for a malformed name and
   * `unknown_namespace` when no namespace matches.
   */
  require(channel: string): Namespace {
    const cached = this.resolved.get(channel);
    if (cached) return cached;
    if (!isChannelName(channel)) throw new WirehubError('bad_channel', CHANNEL_NAME_RULE);
    const ns = this.find(channel);
    if (!ns) {
      const known = this.list()
        .map((n) => n.pattern)
        .join(', ');
      throw new WirehubError('unknown_namespace', `no namespace matches "${channel}"; known: ${known}`);
    }
    // Bounded: a flood of distinct names only costs a periodic reset.
    if (this.resolved.size >= 10_000) this.resolved.clear();
    this.resolved.set(channel, ns);
    return ns;
  }
}
