/**
 * The `/rt` multiplexed protocol (subprotocol `wirehub.v1`): zod schemas for every command a
 * client sends and every frame the server pushes, and the TypeScript types inferred from them.
 * No I/O: the browser client validates with the same schemas.
 *
 * @example
 * ```ts
 * import { RT_SUBPROTOCOL, type RtServerFrame } from 'wirehub/protocol';
 * const ws = new WebSocket('ws://127.0.0.1:8080/rt', RT_SUBPROTOCOL);
 * ws.onopen = () => ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel: 'chat:lobby' }));
 * ws.onmessage = (e) => {
 *   const frame = JSON.parse(e.data) as RtServerFrame;
 *   if (frame.op === 'message') console.log(frame.channel, frame.offset, frame.data);
 * };
 * ```
 */
import { z } from 'zod';
import { CHANNEL_NAME, CHANNEL_NAME_MAX, CHANNEL_NAME_RULE } from './channels.js';

export { RT_SUBPROTOCOL } from './rt-constants.js';

/** Largest `limit` a `history` command may ask for. */
export const RT_HISTORY_MAX_LIMIT = 1000;

/**
 * Most publications a `subscribe` replays. When more were missed the reply says
 * `recovered: false` (one huge frame would trip the slow-consumer cap again and again); the
 * client can page the gap with `history` from its `since`.
 */
export const RT_RECOVERY_MAX = 1000;

export const channelNameSchema = z
  .string()
  .max(CHANNEL_NAME_MAX, CHANNEL_NAME_RULE)
  .regex(CHANNEL_NAME, CHANNEL_NAME_RULE);

export const commandIdSchema = z.int().nonnegative();

export const streamPositionSchema = z.strictObject({
  epoch: z.string().min(1).max(64),
  offset: z.int().nonnegative(),
});

export const originSchema = z.object({
  client: z.string(),
  user: z.string().optional(),
});

/** Any JSON value (present: `undefined` is refused). */
const dataSchema = z.unknown().refine((v) => v !== undefined, 'data is required');

// ---- client → server commands -------------------------------------------------------------

export const subscribeCommand = z.strictObject({
  op: z.literal('subscribe'),
  id: commandIdSchema,
  channel: channelNameSchema,
  /** Last position the client saw: the server replays what came after it. */
  since: streamPositionSchema.optional(),
});

export const unsubscribeCommand = z.strictObject({
  op: z.literal('unsubscribe'),
  id: commandIdSchema,
  channel: channelNameSchema,
});

export const publishCommand = z.strictObject({
  op: z.literal('publish'),
  id: commandIdSchema,
  channel: channelNameSchema,
  data: dataSchema,
});

export const historyCommand = z.strictObject({
  op: z.literal('history'),
  id: commandIdSchema,
  channel: channelNameSchema,
  since: streamPositionSchema.optional(),
  limit: z.int().min(1).max(RT_HISTORY_MAX_LIMIT).optional(),
});

export const presenceCommand = z.strictObject({
  op: z.literal('presence'),
  id: commandIdSchema,
  channel: channelNameSchema,
});

export const runCommand = z.strictObject({
  op: z.literal('run'),
  id: commandIdSchema,
  project: z.string().min(1),
  domain: z.string().min(1),
  task: z.string().min(1),
  version: z.string().min(1),
  inputs: z.record(z.string(), z.unknown()).default({}),
});

export const cancelCommand = z.strictObject({
  op: z.literal('cancel'),
  id: commandIdSchema,
  run: z.string().min(1),
});

export const refreshCommand = z.strictObject({
  op: z.literal('refresh'),
  id: commandIdSchema,
  token: z.string().min(1),
});

export const pingCommand = z.strictObject({
  op: z.literal('ping'),
  id: commandIdSchema,
});

export const rtCommandSchema = z.discriminatedUnion('op', [
  subscribeCommand,
  unsubscribeCommand,
  publishCommand,
  historyCommand,
  presenceCommand,
  runCommand,
  cancelCommand,
  refreshCommand,
  pingCommand,
]);

export type RtCommand = z.infer<typeof rtCommandSchema>;
export type RtOp = RtCommand['op'];
export type RtCommandOf<Op extends RtOp> = Extract<RtCommand, { op: Op }>;

/** Every command op, in the order the docs list them. */
export const RT_OPS = [
  'subscribe',
  'unsubscribe',
  'publish',
  'history',
  'presence',
  'run',
  'cancel',
  'refresh',
  'ping',
] as const satisfies readonly RtOp[];

// ---- server → client ----------------------------------------------------------------------

/** A publication as it appears in `message` pushes and in replies that list publications. */
export const publicationSchema = z.object({
  channel: z.string(),
  /** Present on channels that keep history. */
  epoch: z.string().optional(),
  offset: z.int().optional(),
  data: z.unknown(),
  from: originSchema.optional(),
});
export type RtPublication = z.infer<typeof publicationSchema>;

export const subscribeResult = z.object({
  epoch: z.string().optional(),
  offset: z.int().optional(),
  /** Only when `since` was given: true = `publications` are exactly what was missed. */
  recovered: z.boolean().optional(),
  publications: z.array(publicationSchema),
});

export const publishResult = z.object({
  epoch: z.string().optional(),
  offset: z.int().optional(),
});

export const historyResult = z.object({
  epoch: z.string(),
  offset: z.int(),
  /** False when `since` is no longer covered (trimmed or another epoch). */
  complete: z.boolean(),
  publications: z.array(publicationSchema),
});

export const presenceMemberSchema = z.object({
  client: z.string(),
  user: z.string().optional(),
  connectedAt: z.int(),
});

export const presenceResult = z.object({ members: z.array(presenceMemberSchema) });

export const pingResult = z.object({});

/** Reply to `run`: the run id, its page, its status now, and the channel carrying its updates. */
export const runResult = z.object({
  run: z.string(),
  url: z.string(),
  status: z.string(),
  channel: z.string(),
});

/** Reply to `cancel`: the run and its status after the cancel (ABORTED once it has stopped). */
export const cancelResult = z.object({ run: z.string(), status: z.string() });

/**
 * Reply to `refresh`: when the connection's credentials now expire (ms since the Unix epoch;
 * absent when they do not expire), and the channels the connection left because the new
 * token's grants no longer allow subscribing to them.
 */
export const refreshResult = z.object({
  expiresAt: z.int().optional(),
  unsubscribed: z.array(z.string()),
});

export const replyFrame = z.object({
  op: z.literal('reply'),
  id: commandIdSchema,
  result: z.unknown(),
});

export const errorFrame = z.object({
  op: z.literal('error'),
  /** Absent only when the frame was too broken to carry an id. */
  id: commandIdSchema.optional(),
  code: z.string(),
  message: z.string(),
  details: z.unknown().optional(),
});

export const messagePush = publicationSchema.extend({ op: z.literal('message') });

export const joinPush = z.object({
  op: z.literal('join'),
  channel: z.string(),
  client: z.string(),
  user: z.string().optional(),
});

export const leavePush = joinPush.extend({ op: z.literal('leave') });

export const runPush = z.object({
  op: z.literal('run'),
  run: z.string(),
  status: z.string(),
  message: z.string().optional(),
  progress: z.number().optional(),
  outputs: z.unknown().optional(),
  error: z.unknown().optional(),
});

export const rtServerFrameSchema = z.discriminatedUnion('op', [
  replyFrame,
  errorFrame,
  messagePush,
  joinPush,
  leavePush,
  runPush,
]);

export type RtServerFrame = z.infer<typeof rtServerFrameSchema>;
export type RtReply = z.infer<typeof replyFrame>;
export type RtError = z.infer<typeof errorFrame>;
export type RtMessagePush = z.infer<typeof messagePush>;
export type RtJoinPush = z.infer<typeof joinPush>;
export type RtLeavePush = z.infer<typeof leavePush>;
export type RtRunPush = z.infer<typeof runPush>;
export type RtRunResult = z.infer<typeof runResult>;
export type RtCancelResult = z.infer<typeof cancelResult>;
export type RtRefreshResult = z.infer<typeof refreshResult>;
export type RtSubscribeResult = z.infer<typeof subscribeResult>;
export type RtPublishResult = z.infer<typeof publishResult>;
export type RtHistoryResult = z.infer<typeof historyResult>;
export type RtPresenceResult = z.infer<typeof presenceResult>;
