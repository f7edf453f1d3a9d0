// Builds docs/asyncapi.yaml (AsyncAPI 3.0) from the zod schemas of the /rt protocol, so the
// document cannot drift from the code: test/unit/docs.test.ts fails when the file differs
// and rewrites it when run with WIREHUB_WRITE_DOCS=1.
import type { z } from 'zod';
import {
  CloseCode,
  cancelCommand,
  cancelResult,
  errorCatalog,
  errorFrame,
  historyCommand,
  historyResult,
  joinPush,
  leavePush,
  messagePush,
  pingCommand,
  pingResult,
  presenceCommand,
  presenceResult,
  publishCommand,
  publishResult,
  RT_SUBPROTOCOL,
  refreshCommand,
  refreshResult,
  replyFrame,
  runCommand,
  runPush,
  runResult,
  subscribeCommand,
  subscribeResult,
  unsubscribeCommand,
} from '../src/protocol/index.js';
import { toJsonSchema } from '../src/protocol/json-schema.js';

interface MessageDoc {
  schema: z.ZodType;
  summary: string;
  example: Record<string, unknown>;
}

const commands: Record<string, MessageDoc> = {
  subscribe: {
    schema: subscribeCommand,
    summary: 'Subscribe to a channel; with `since`, replay what was missed (or say recovered: false).',
    example: { op: 'subscribe', id: 1, channel: 'chat:lobby', since: { epoch: 'e-Qx3fT0aB', offset: 41 } },
  },
  unsubscribe: {
    schema: unsubscribeCommand,
    summary: 'Leave a channel.',
    example: { op: 'unsubscribe', id: 2, channel: 'chat:lobby' },
  },
  publish: {
    schema: publishCommand,
    summary: 'Publish any JSON value to a channel.',
    example: { op: 'publish', id: 3, channel: 'chat:lobby', data: { text: 'hi' } },
  },
  history: {
    schema: historyCommand,
    summary: 'Read a channel history: the newest `limit`, or forward from `since`.',
    example: {
      op: 'history',
      id: 4,
      channel: 'chat:lobby',
      since: { epoch: 'e-Qx3fT0aB', offset: 10 },
      limit: 100,
    },
  },
  presence: {
    schema: presenceCommand,
    summary: 'List who is subscribed to a channel.',
    example: { op: 'presence', id: 5, channel: 'chat:lobby' },
  },
  run: {
    schema: runCommand,
    summary:
      'Start a task run (needs the task grant); its updates follow as run pushes until it ends. Each user may have a limited number of runs in progress (too_many_runs).',
    example: {
      op: 'run',
      id: 6,
      project: 'demo',
      domain: 'development',
      task: 'count',
      version: '1',
      inputs: { n: 5 },
    },
  },
  cancel: {
    schema: cancelCommand,
    summary:
      'Cancel a run you may see: one of a task you may run, that you started (or any, with the allRuns grant).',
    example: { op: 'cancel', id: 7, run: 'r-7Hq2' },
  },
  refresh: {
    schema: refreshCommand,
    summary:
      "Replace the connection's token with a fresh one for the same user before it expires (else the connection closes with 4001). A bad or other-user token is an unauthorized error; the connection stays open on its old token.",
    example: { op: 'refresh', id: 8, token: 'eyJhbGciOi' },
  },
  ping: {
    schema: pingCommand,
    summary: 'Round trip; the reply result is {}.',
    example: { op: 'ping', id: 9 },
  },
};

const frames: Record<string, MessageDoc> = {
  reply: {
    schema: replyFrame,
    summary:
      'The one answer to a successful command. `result` depends on the command: see the *Result schemas.',
    example: { op: 'reply', id: 3, result: { epoch: 'e-Qx3fT0aB', offset: 45 } },
  },
  error: {
    schema: errorFrame,
    summary: 'The one answer to a failed command (no `id` only when the frame carried none). See errors.md.',
    example: {
      op: 'error',
      id: 3,
      code: 'forbidden',
      message: 'only the server publishes to run:* channels',
    },
  },
  message: {
    schema: messagePush,
    summary: 'A publication on a subscribed channel; `epoch`/`offset` on channels with history.',
    example: {
      op: 'message',
      channel: 'chat:lobby',
      epoch: 'e-Qx3fT0aB',
      offset: 45,
      data: { text: 'hi' },
      from: { client: 'c-4kQ' },
    },
  },
  join: {
    schema: joinPush,
    summary: 'Someone subscribed to the channel (debounced).',
    example: { op: 'join', channel: 'chat:lobby', client: 'c-9Zt' },
  },
  leave: {
    schema: leavePush,
    summary: 'Someone left the channel (debounced).',
    example: { op: 'leave', channel: 'chat:lobby', client: 'c-9Zt' },
  },
  runUpdate: {
    schema: runPush,
    summary: 'An update of a run started with the run command.',
    example: { op: 'run', run: 'r-7Hq2', status: 'RUNNING', message: 'step 2 of 5', progress: 0.4 },
  },
};

const results: Record<string, z.ZodType> = {
  SubscribeResult: subscribeResult,
  PublishResult: publishResult,
  HistoryResult: historyResult,
  PresenceResult: presenceResult,
  PingResult: pingResult,
  RunResult: runResult,
  CancelResult: cancelResult,
  RefreshResult: refreshResult,
};

function schemaOf(type: z.ZodType): unknown {
  return toJsonSchema(type);
}

function messages(docs: Record<string, MessageDoc>, suffix: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(docs).map(([name, doc]) => [
      `${name}${suffix}`,
      {
        name: `${name}${suffix}`,
        summary: doc.summary,
        contentType: 'application/json',
        payload: { $ref: `#/components/schemas/${name}${suffix}` },
        examples: [{ payload: doc.example }],
      },
    ]),
  );
}

function refs(docs: Record<string, MessageDoc>, suffix: string, base: string): { $ref: string }[] {
  return Object.keys(docs).map((name) => ({ $ref: `${base}/${name}${suffix}` }));
}

/** The AsyncAPI 3.0 document of `/rt`, described from the server's side. */
export function buildAsyncApi(version: string): Record<string, unknown> {
  const commandMessages = messages(commands, 'Command');
  const frameMessages = messages(frames, 'Frame');
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'wirehub /rt',
      version,
      description: [
        `The multiplexed JSON protocol of wirehub (WebSocket subprotocol \`${RT_SUBPROTOCOL}\`).`,
        'Every command carries an integer `id` and gets exactly one `reply` or `error` with it.',
        'Channels with history number publications with offsets within an epoch; `subscribe` with',
        '`since` replays what was missed (`recovered: true`) or says `recovered: false`.',
        'Prose and more examples: docs/protocol.md. Error codes: docs/errors.md.',
        `Error codes: ${Object.keys(errorCatalog).join(', ')}.`,
        `Close codes: ${Object.entries(CloseCode)
          .map(([n, c]) => `${c} ${n}`)
          .join(', ')}.`,
      ].join('\n'),
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: '127.0.0.1:8080',
        protocol: 'ws',
        description: 'wirehub serve (default host and port)',
      },
    },
    channels: {
      rt: {
        address: '/rt',
        title: '/rt',
        description: `One WebSocket connection; offer the subprotocol ${RT_SUBPROTOCOL}.`,
        messages: {
          ...Object.fromEntries(
            Object.keys(commandMessages).map((k) => [k, { $ref: `#/components/messages/${k}` }]),
          ),
          ...Object.fromEntries(
            Object.keys(frameMessages).map((k) => [k, { $ref: `#/components/messages/${k}` }]),
          ),
        },
      },
    },
    operations: {
      receiveCommand: {
        action: 'receive',
        channel: { $ref: '#/channels/rt' },
        summary: 'Commands a client sends.',
        messages: refs(commands, 'Command', '#/channels/rt/messages'),
        reply: {
          channel: { $ref: '#/channels/rt' },
          messages: [
            { $ref: '#/channels/rt/messages/replyFrame' },
            { $ref: '#/channels/rt/messages/errorFrame' },
          ],
        },
      },
      sendPush: {
        action: 'send',
        channel: { $ref: '#/channels/rt' },
        summary: 'Frames the server pushes: publications, presence changes, run updates.',
        messages: [
          { $ref: '#/channels/rt/messages/messageFrame' },
          { $ref: '#/channels/rt/messages/joinFrame' },
          { $ref: '#/channels/rt/messages/leaveFrame' },
          { $ref: '#/channels/rt/messages/runUpdateFrame' },
        ],
      },
    },
    components: {
      messages: { ...commandMessages, ...frameMessages },
      schemas: {
        ...Object.fromEntries(Object.entries(commands).map(([n, d]) => [`${n}Command`, schemaOf(d.schema)])),
        ...Object.fromEntries(Object.entries(frames).map(([n, d]) => [`${n}Frame`, schemaOf(d.schema)])),
        ...Object.fromEntries(Object.entries(results).map(([n, s]) => [n, schemaOf(s)])),
      },
    },
  };
}

const PLAIN = /^[A-Za-z_$][A-Za-z0-9_$.-]*$/;

function key(k: string): string {
  return PLAIN.test(k) ? k : JSON.stringify(k);
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return JSON.stringify(v) ?? 'null';
}

function isEmpty(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}

/** A small YAML emitter for JSON data (strings double-quoted, which YAML reads as JSON strings). */
export function toYaml(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        if (typeof item === 'object' && item !== null && !isEmpty(item)) {
          const body = toYaml(item, `${indent}  `);
          return `${indent}- ${body.slice(indent.length + 2)}`;
        }
        return `${indent}- ${isEmpty(item) ? (Array.isArray(item) ? '[]' : '{}') : scalar(item)}`;
      })
      .join('\n');
  }
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .map(([k, v]) => {
        if (typeof v === 'object' && v !== null && !isEmpty(v)) {
          return `${indent}${key(k)}:\n${toYaml(v, `${indent}  `)}`;
        }
        return `${indent}${key(k)}: ${isEmpty(v) ? (Array.isArray(v) ? '[]' : '{}') : scalar(v)}`;
      })
      .join('\n');
  }
  return `${indent}${scalar(value)}`;
}

export function asyncApiYaml(version: string): string {
  return `# Generated from src/protocol/rt.ts by scripts/asyncapi.ts: do not edit by hand.\n${toYaml(buildAsyncApi(version))}\n`;
}
