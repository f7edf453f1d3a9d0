/**
 * `npm run bench:storm`: a reconnect storm. N /rt connections (default 20,000, from several
 * load-generator processes, each with its own 127.0.0.x source address) subscribe to channels
 * with history; publications move their positions; then the server is killed (SIGKILL: every
 * connection drops at once) and restarted on the same data dir and port. Every client
 * reconnects with jittered backoff and resubscribes with `since`. Reports the time until all
 * are back, the server's CPU over the storm (total, and the peak over 100 ms windows), and
 * that every client was answered on recovery: `recovered: true` with the missed
 * publications, or told `recovered: false`.
 *
 *   ulimit -n 65536   # the server and each load generator hold their share of sockets
 *   npm run bench:storm
 *   npx tsx bench/reconnect-storm.ts --connections 5000 --workers 2 --drop drain
 *
 * `--join-leave off` keeps presence but pushes no join/leave events (the channels are `chat:*`
 * otherwise as built in).
 *
 * `--drop kill` (default) is a crash or node loss; `--drop drain` is a deploy: SIGTERM with
 * `--drain-window 0` closes every connection with 1001 at once, then the restart.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openFilesLimit } from '../src/cli/bench/connect.js';
import { wsDriver } from '../src/cli/bench/driver.js';
import { readProcSample } from '../src/cli/bench/proc-stats.js';
import { RtClient } from '../src/cli/bench/rt-client.js';
import { NO_LIMITS } from './support/no-limits.js';
import { freePort, ServerProcess } from './support/servers.js';

const root = new URL('..', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '20000' },
    workers: { type: 'string', default: '4' },
    channels: { type: 'string', default: '100' },
    publications: { type: 'string', default: '3' },
    drop: { type: 'string', default: 'kill' },
    timeout: { type: 'string', default: '120' },
    'join-leave': { type: 'string', default: 'on' },
  },
});
const total = Number(args.connections);
const workerCount = Math.max(1, Number(args.workers));
const channels = Number(args.channels);
const drop = args.drop === 'drain' ? 'drain' : 'kill';

interface Counts {
  type: string;
  open: number;
  dropped: number;
  back: number;
  recovered: number;
  notRecovered: number;
  replayed: number;
  received: number;
  reconnectFailures: number;
  firstBackAt: number;
  lastBackAt: number;
  errors: Record<string, number>;
  error?: string;
}

const limit = openFilesLimit();
// The server holds every connection in one process (a load generator holds its share only).
if (limit !== undefined && limit < total + 200) {
  console.error(
    `the open-files limit is ${limit}; ${total} connections need about ${total + 200}: raise it (ulimit -n) or use --connections ${limit - 200}`,
  );
  process.exit(2);
}

const dataDir = mkdtempSync(join(tmpdir(), 'wirehub-storm-'));
// `--join-leave off`: the channels keep presence but push no join/leave to their subscribers,
// to tell that part of a storm's cost (each join goes to every member of the channel).
const joinLeave = args['join-leave'] !== 'off';
const namespacesFile = join(dataDir, 'namespaces.json');
writeFileSync(
  namespacesFile,
  JSON.stringify([
    { pattern: 'chat:*', history: { size: 100, ttlMs: 86_400_000 }, presence: true, joinLeave },
  ]),
);
const port = await freePort();
const spec = {
  args: [
    join(root, 'dist/cli/main.js'),
    'serve',
    '--log-level',
    'warn',
    '--data-dir',
    dataDir,
    '--drain-window',
    '0',
    '--namespaces',
    namespacesFile,
    ...NO_LIMITS,
  ],
};
const url = `ws://127.0.0.1:${port}/rt`;
const workers: ChildProcess[] = [];
let server = await ServerProcess.start(spec, port);

/** Sends `cmd` to every worker and resolves with each one's first answer of `type`. */
function ask(cmd: string, type: string | string[], timeoutMs: number): Promise<Counts[]> {
  const types = Array.isArray(type) ? type : [type];
  return Promise.all(
    workers.map(
      (w) =>
        new Promise<Counts>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no ${types.join('/')} within ${timeoutMs} ms`)),
            timeoutMs,
          );
          const on = (msg: Counts) => {
            if (!types.includes(msg.type)) return;
            clearTimeout(timer);
            w.off('message', on);
            resolve(msg);
          };
          w.on('message', on);
          if (cmd) w.send({ cmd });
        }),
    ),
  );
}

function sum(list: Counts[]) {
  const out = {
    open: 0,
    dropped: 0,
    back: 0,
    recovered: 0,
    notRecovered: 0,
    replayed: 0,
    received: 0,
    failures: 0,
  };
  for (const c of list) {
    out.open += c.open;
    out.dropped += c.dropped;
    out.back += c.back;
    out.recovered += c.recovered;
    out.notRecovered += c.notRecovered;
    out.replayed += c.replayed;
    out.received += c.received;
    out.failures += c.reconnectFailures;
  }
  return out;
}

try {
  const per = Math.ceil(total / workerCount);
  for (let w = 0; w < workerCount; w += 1) {
    const count = Math.min(per, total - w * per);
    workers.push(
      fork(join(root, 'bench/support/storm-clients.ts'), [], {
        execArgv: ['--import', 'tsx'],
        env: {
          ...process.env,
          STORM_CONFIG: JSON.stringify({
            url,
            first: w * per,
            count,
            channels,
            localAddress: `127.0.0.${2 + w}`,
            concurrency: 50,
          }),
        },
      }),
    );
  }
  const t = performance.now();
  const opened = await ask('open', ['opened', 'failed'], 300_000);
  const failed = opened.find((o) => o.type === 'failed');
  if (failed) throw new Error(`a load generator could not open its connections: ${failed.error}`);
  console.error(
    `${sum(opened).open} connections subscribed in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  // Move every channel's position: the clients must come back from a position, not from 0.
  const publisher = new RtClient(
    await wsDriver.connect(url, { timeoutMs: 10_000, protocols: ['wirehub.v1'] }),
  );
  for (let n = 0; n < Number(args.publications); n += 1)
    for (let c = 0; c < channels; c += 1) await publisher.publishAcked(`chat:storm-${c}`, { n });
  const before = sum(await settleReceived(total * Number(args.publications)));
  console.error(`${before.received} publications delivered live; dropping all at once (${drop})`);

  // Listening before the drop: the first load generator may be all back before the restart returns.
  const allBack = ask('', 'back', Number(args.timeout) * 1000);
  // Drop everything at once, then restart on the same data dir and port.
  const droppedAt = Date.now();
  if (drop === 'kill') server.child.kill('SIGKILL');
  else server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  server = await ServerProcess.start(spec, port);
  const listeningAt = Date.now();
  // Publications racing the reconnects: a client gets each live or replayed, never lost.
  const publisher2 = new RtClient(
    await wsDriver.connect(url, { timeoutMs: 10_000, protocols: ['wirehub.v1'] }),
  );
  for (let c = 0; c < channels; c += 1) await publisher2.publishAcked(`chat:storm-${c}`, { n: 'during' });
  const pid = server.pid;
  // Server CPU over the storm: total, and the peak over 100 ms windows.
  let last = readProcSample(pid);
  let lastAt = performance.now();
  const start = last;
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const now = readProcSample(pid);
      const at = performance.now();
      peak = Math.max(peak, (now.cpuMs - last.cpuMs) / (at - lastAt));
      last = now;
      lastAt = at;
    } catch {
      // The server is gone; the run fails below.
    }
  }, 100);
  const done = await allBack.finally(() => clearInterval(sampler));
  const end = readProcSample(pid);
  // Every client saw every publication of its channel once: live or replayed.
  const expected = total * (Number(args.publications) + 1);
  const s = sum(await settleReceived(expected, true));
  const lastBack = Math.max(...done.map((d) => d.lastBackAt));
  const firstBack = Math.min(...done.map((d) => d.firstBackAt));
  const errors: Record<string, number> = {};
  for (const d of done) for (const [k, v] of Object.entries(d.errors)) errors[k] = (errors[k] ?? 0) + v;
  const report = {
    connections: total,
    loadGenerators: workerCount,
    channels,
    drop,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    restartMs: listeningAt - droppedAt,
    allBackAfterDropMs: lastBack - droppedAt,
    allBackAfterListenMs: lastBack - listeningAt,
    firstBackAfterListenMs: firstBack - listeningAt,
    reconnectsPerSec: Math.round((s.back * 1000) / Math.max(1, lastBack - firstBack)),
    serverCpuMs: Math.round(end.cpuMs - start.cpuMs),
    serverCpuUsPerReconnect: Math.round(((end.cpuMs - start.cpuMs) * 1000) / Math.max(1, s.back)),
    peakServerCpu: `${Math.round(peak * 100)}% of a core (100 ms windows)`,
    back: s.back,
    recovered: s.recovered,
    toldNotRecovered: s.notRecovered,
    unanswered: total - s.recovered - s.notRecovered,
    replayedPublications: s.replayed,
    publicationsSeen: `${s.received + s.replayed} of ${expected} (live + replayed)`,
    failedAttempts: s.failures,
    errors,
  };
  console.log(JSON.stringify(report, null, 2));
  publisher.socket.terminate();
  publisher2.socket.terminate();
  if (report.unanswered !== 0 || s.received + s.replayed !== expected) process.exitCode = 1;
} finally {
  for (const w of workers) w.kill('SIGKILL');
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

/** Waits until the workers have seen `expected` publications, live (or also replayed), at most 30 s. */
async function settleReceived(expected: number, replayed = false): Promise<Counts[]> {
  const until = performance.now() + 30_000;
  for (;;) {
    const counts = await ask('count', 'counts', 10_000);
    const seen = sum(counts);
    if (seen.received + (replayed ? seen.replayed : 0) >= expected || performance.now() > until)
      return counts;
    await new Promise((r) => setTimeout(r, 200));
  }
}
