/**
 * One load-generator process of bench/many-connections.ts (forked with IPC). It opens its share
 * of idle connections to a broadcast endpoint from its own source address (one address's
 * ephemeral ports and one process's open-files limit are the ceilings, so the bench spreads
 * over several), holds them, and counts what each receives.
 *
 * Parent → holder: {cmd:'open'}, {cmd:'count'}, {cmd:'exit'}.
 * Holder → parent: {type:'opened'} once every connection is open or failed, {type:'counts'}.
 */
import { type BenchSocket, wsDriver } from '../../src/cli/bench/driver.js';

const cfg = JSON.parse(process.env.HOLDER_CONFIG ?? '{}') as {
  url: string;
  count: number;
  localAddress: string;
  concurrency: number;
};

const sockets: BenchSocket[] = [];
/** Connections that received at least one message; a broadcast reaches each once. */
let reached = 0;
let messages = 0;
let closed = 0;
let failed = 0;
const errors = new Map<string, number>();

function note(err: unknown): void {
  const key = (err instanceof Error ? err.message : String(err)).slice(0, 80);
  errors.set(key, (errors.get(key) ?? 0) + 1);
}

async function openOne(): Promise<void> {
  try {
    const socket = await wsDriver.connect(cfg.url, { timeoutMs: 60_000, localAddress: cfg.localAddress });
    let got = 0;
    socket.onMessage = () => {
      got += 1;
      messages += 1;
      if (got === 1) reached += 1;
    };
    socket.onClose = () => {
      closed += 1;
    };
    sockets.push(socket);
  } catch (err) {
    failed += 1;
    note(err);
  }
}

async function openAll(): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < cfg.count) {
      next += 1;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.concurrency, cfg.count) }, lane));
}

function counts(type: string) {
  return {
    type,
    open: sockets.length - closed,
    failed,
    closed,
    reached,
    messages,
    errors: Object.fromEntries(errors),
  };
}

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'open') void openAll().then(() => process.send?.(counts('opened')));
  else if (msg.cmd === 'count') process.send?.(counts('counts'));
  else if (msg.cmd === 'exit') {
    for (const s of sockets) s.terminate();
    process.exit(0);
  }
});
