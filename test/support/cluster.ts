import type { ServerOptions } from '../../src/server/options.js';
import { type RunningServer, startServer } from './server.js';

/** Chat rooms as built in, but join/leave pushed at once (no debounce to wait out in tests). */
export const fastChatNamespaces: ServerOptions['namespaces'] = [
  {
    pattern: 'chat:*',
    history: { size: 100, ttlMs: 24 * 60 * 60 * 1000 },
    presence: true,
    joinLeaveDebounceMs: 0,
  },
];

/** `count` in-process nodes on one Redis: each its own server, engine and data dir. */
export async function startNodes(
  count: number,
  redisUrl: string,
  options: ServerOptions = {},
): Promise<RunningServer[]> {
  const nodes: RunningServer[] = [];
  for (let i = 0; i < count; i += 1) {
    nodes.push(await startServer({ redis: redisUrl, namespaces: fastChatNamespaces, ...options }));
  }
  return nodes;
}

/** GET a node's path: status and parsed JSON (or text) body. */
export async function get(node: { url: string }, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${node.url}${path}`);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body };
}

/** POST /api/publish on a node; resolves with the JSON answer. */
export async function publishVia(
  node: { url: string },
  channel: string,
  data: unknown,
): Promise<{ id: string; epoch?: string; offset?: number }> {
  const res = await fetch(`${node.url}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data }),
  });
  if (res.status !== 200) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { id: string; epoch?: string; offset?: number };
}

/**
 * Polls `check` until it holds. For states only visible by asking (an HTTP probe, presence
 * after a TTL); the timeout turns a hang into a clear failure.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
