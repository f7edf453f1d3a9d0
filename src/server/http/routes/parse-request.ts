import type { z } from 'zod';
import { WirehubError } from '../../../protocol/index.js';

/**
 * Validates a request part (`what` names it in the message) with its zod schema: `bad_channel`
 * when only the channel name is wrong, `bad_request` with every issue otherwise.
 */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.message,
  }));
  // Only the channel name is wrong: say so with its own code.
  const issues = parsed.error.issues;
  const [first] = issues;
  if (
    first &&
    issues.every((i) => (what === 'channel' || i.path[0] === 'channel') && i.code !== 'invalid_type')
  ) {
    throw new WirehubError('bad_channel', first.message, details);
  }
  const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  throw new WirehubError('bad_request', `bad ${what}: ${summary}`, details);
}
