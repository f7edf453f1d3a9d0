import type { z } from 'zod';
import { WirehubError } from './errors.js';
import { tryParseJson } from './json.js';
import { RT_OPS, type RtCommand, rtCommandSchema } from './rt.js';

/** A decoded `/rt` frame: a valid command, or the error to answer (with the id when it had one). */
export type DecodedCommand =
  | { ok: true; command: RtCommand }
  | { ok: false; id: number | undefined; error: WirehubError };

const OPS = new Set<string>(RT_OPS);

/**
 * Parses one text frame of `/rt` into a command. Never throws: a frame that is not JSON,
 * nests deeper than `maxDepth` (`json_too_deep`), has a prototype key, an unknown `op`, the
 * wrong shape or a bad channel name comes back as the catalog error to send, together with
 * the command's `id` whenever the frame carried a usable one.
 *
 * @example
 * ```ts
 * const decoded = decodeCommand('{"op":"ping","id":7}');
 * if (decoded.ok) handle(decoded.command);
 * else send({ op: 'error', id: decoded.id, ...decoded.error.toJSON() });
 * ```
 */
export function decodeCommand(text: string, maxDepth?: number): DecodedCommand {
  const json = tryParseJson(text, { what: 'frame', ...(maxDepth === undefined ? {} : { maxDepth }) });
  // Too deep or with a prototype key, the frame is still answered with its command's id.
  if (!json.ok) return fail(commandIdOf(json.refused), json.error);
  const raw = json.value;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail(undefined, new WirehubError('invalid_message', 'a command is a JSON object with an "op"'));
  }
  const fields = raw as Record<string, unknown>;
  const id = commandIdOf(fields);
  const op = fields.op;
  if (typeof op !== 'string') {
    return fail(id, new WirehubError('invalid_message', 'a command needs an "op" string'));
  }
  if (!OPS.has(op)) {
    return fail(
      id,
      new WirehubError('unknown_op', `unknown op "${op.slice(0, 32)}"; expected one of ${RT_OPS.join(', ')}`),
    );
  }
  const parsed = rtCommandSchema.safeParse(raw);
  if (parsed.success) return { ok: true, command: parsed.data };
  return fail(id, errorFromIssues(op, parsed.error.issues));
}

/**
 * The `id` of a command frame's parsed value, when it is a usable one (a non-negative safe
 * integer), so the answer to a broken command still names it.
 */
export function commandIdOf(frame: unknown): number | undefined {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return undefined;
  const id = (frame as Record<string, unknown>).id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

function fail(id: number | undefined, error: WirehubError): DecodedCommand {
  return { ok: false, id, error };
}

function errorFromIssues(op: string, issues: z.core.$ZodIssue[]): WirehubError {
  const details = issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  // Only the channel name is wrong: say so with its own code.
  const [first] = issues;
  if (first && issues.every((i) => i.path[0] === 'channel' && i.code !== 'invalid_type')) {
    return new WirehubError('bad_channel', first.message, details);
  }
  const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  return new WirehubError('invalid_message', `bad "${op}" command: ${summary}`, details);
}
