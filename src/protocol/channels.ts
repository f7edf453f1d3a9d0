/**
 * Channel names: `namespace` or `namespace:rest`, e.g. `broadcast`, `chat:lobby`, `run:r-9f3k`.
 * The namespace is 1-64 of `[A-Za-z0-9_.-]`; the rest is 1 or more of `[A-Za-z0-9_.:=@-]`; the
 * whole name is at most {@link CHANNEL_NAME_MAX} characters. `$` never appears in a valid
 * name, so the hub can keep internal channels (`$presence:…`) apart from users' ones.
 *
 * @example
 * ```ts
 * import { isChannelName, channelNamespace } from 'wirehub/protocol';
 * isChannelName('chat:lobby'); // true
 * channelNamespace('chat:lobby'); // 'chat'
 * ```
 */
export const CHANNEL_NAME = /^[A-Za-z0-9_.-]{1,64}(?::[A-Za-z0-9_.:=@-]+)?$/;

/** Longest channel name accepted. */
export const CHANNEL_NAME_MAX = 200;

/** Human-readable form of the rule, used in error messages and docs. */
export const CHANNEL_NAME_RULE =
  'channel names are <namespace> or <namespace>:<name>: the namespace 1-64 of [A-Za-z0-9_.-], the name of [A-Za-z0-9_.:=@-], 200 characters at most';

/** True when `name` is a well-formed channel name (its namespace may still be unknown). */
export function isChannelName(name: string): boolean {
  return name.length <= CHANNEL_NAME_MAX && CHANNEL_NAME.test(name);
}

/** The namespace part of a channel name: everything before the first `:`. */
export function channelNamespace(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}
