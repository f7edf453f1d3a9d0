/**
 * What the client reads, checked without zod: every server frame of `/rt`, the result of each
 * command, and a run update. Each guard mirrors one zod schema of `rt.ts` / `runs.ts` (named
 * alike, with `Guard` for `Schema`): those stay the definition and the server's validator.
 * test/unit/rt-guards.test.ts checks that each pair has the same type and accepts, refuses and
 * outputs the same values (fast-check over generated frames), so a change to a schema that
 * is not made here too fails there.
 *
 * @example
 * ```ts
 * const frame = parse(rtServerFrameGuard, JSON.parse(text));
 * if (frame.success && frame.data.op === 'message') show(frame.data.data);
 * ```
 */
import {
  array,
  boolean,
  extend,
  int,
  intAtLeast,
  number,
  object,
  oneOf,
  optional,
  string,
  union,
  unknown,
} from './guard.js';
import { RUN_STATUSES } from './run-status.js';

const commandId = intAtLeast(0);

export const originGuard = object({ client: string, user: optional(string) });

const publicationShape = {
  channel: string,
  epoch: optional(string),
  offset: optional(int),
  data: unknown,
  from: optional(originGuard),
};
export const publicationGuard = object(publicationShape);

export const subscribeResultGuard = object({
  epoch: optional(string),
  offset: optional(int),
  recovered: optional(boolean),
  publications: array(publicationGuard),
});

export const publishResultGuard = object({ epoch: optional(string), offset: optional(int) });

export const historyResultGuard = object({
  epoch: string,
  offset: int,
  complete: boolean,
  publications: array(publicationGuard),
});

export const presenceMemberGuard = object({ client: string, user: optional(string), connectedAt: int });

export const presenceResultGuard = object({ members: array(presenceMemberGuard) });

export const runResultGuard = object({ run: string, url: string, status: string, channel: string });

export const cancelResultGuard = object({ run: string, status: string });

export const refreshResultGuard = object({ expiresAt: optional(int), unsubscribed: array(string) });

export const replyFrameGuard = object({ op: oneOf(['reply']), id: commandId, result: unknown });

export const errorFrameGuard = object({
  op: oneOf(['error']),
  id: optional(commandId),
  code: string,
  message: string,
  details: optional(unknown),
});

export const messagePushGuard = object(extend(publicationShape, { op: oneOf(['message']) }));

const joinShape = { op: oneOf(['join']), channel: string, client: string, user: optional(string) };
export const joinPushGuard = object(joinShape);
export const leavePushGuard = object(extend(joinShape, { op: oneOf(['leave']) }));

const runPushShape = {
  op: oneOf(['run']),
  run: string,
  status: string,
  message: optional(string),
  progress: optional(number),
  outputs: optional(unknown),
  error: optional(unknown),
};
export const runPushGuard = object(runPushShape);

export const rtServerFrameGuard = union('op', {
  reply: replyFrameGuard,
  error: errorFrameGuard,
  message: messagePushGuard,
  join: joinPushGuard,
  leave: leavePushGuard,
  run: runPushGuard,
});

export const runErrorGuard = object({ kind: oneOf(['USER', 'SYSTEM']), message: string });

export const runUpdateGuard = object({
  run_id: string,
  seq: intAtLeast(1),
  status: oneOf(RUN_STATUSES),
  message: string,
  progress: optional(number),
  at: string,
  outputs: optional(unknown),
  error: optional(runErrorGuard),
});

/** A `run` push without its `op`, with the status narrowed to the run phases (the client's `RunEvent`). */
export const runEventGuard = object({
  run: string,
  status: oneOf(RUN_STATUSES),
  message: optional(string),
  progress: optional(number),
  outputs: optional(unknown),
  error: optional(runErrorGuard),
});
