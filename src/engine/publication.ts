import { jsonEncodeError, WirehubError } from '../protocol/index.js';
import type { Publication, PublishInput } from './types.js';

/** A new publication of `input` stamped with `id` and the current time (no position yet). */
export function newPublication(id: string, input: PublishInput): Publication {
  const pub: Publication = { id, channel: input.channel, data: input.data, at: Date.now() };
  if (input.from) pub.from = input.from;
  return pub;
}

/**
 * The JSON text a store keeps of a publication's data. Called when the publication is
 * appended, before it gets an offset: data that cannot be serialised (nested too deep for the
 * stack, a cycle, a BigInt from a library caller) fails this one publication with
 * `json_too_deep` or `invalid_message`, never the batch it would have been committed with.
 *
 * @example
 * ```ts
 * storedJson({ text: 'hi' }); // '{"text":"hi"}'
 * ```
 */
export function storedJson(data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    // One catalog mapping for every serialisation failure (json_too_deep, invalid_message).
    throw jsonEncodeError(err, "publication's data");
  }
  if (json === undefined)
    throw new WirehubError('invalid_message', "the publication's data cannot be stored: it is not JSON");
  return json;
}
