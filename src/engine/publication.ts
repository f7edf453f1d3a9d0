import type { Publication, PublishInput } from './types.js';

/** A new publication of `input` stamped with `id` and the current time (no position yet). */
export function newPublication(id: string, input: PublishInput): Publication {
  const pub: Publication = { id, channel: input.channel, data: input.data, at: Date.now() };
  if (input.from) pub.from = input.from;
  return pub;
}
