/**
 * p99 `/echo` round trip at a fixed send rate, first on an idle server, then while two
 * CPU-heavy `primes` runs execute on worker threads. Prints both and their ratio: a ratio
 * near 1 means tasks do not stall the sockets.
 *
 *   npm run bench:tasks -- --rate 200 --seconds 5
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createServer } from '../src/index.js';

const { values } = parseArgs({
  options: { rate: { type: 'string', default: '200' }, seconds: { type: 'string', default: '5' } },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);

interface Stats {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

function stats(latencies: number[]): Stats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { samples: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Sends at a fixed rate (open loop: no waiting for answers) and times each echo. */
async function measure(ws: WebSocket): Promise<Stats> {
  const total = Math.round(rate * seconds);
  const sentAt: number[] = [];
  const latencies: number[] = [];
  await new Promise<void>((resolve) => {
    const onMessage = () => {
      const t = sentAt[latencies.length];
      if (t !== undefined) latencies.push(performance.now() - t);
      if (latencies.length === total) {
        ws.off('message', onMessage);
        resolve();
      }
    };
    ws.on('message', onMessage);
    const start = performance.now();
    let sent = 0;
    const tick = () => {
      // Catch up on schedule: the send times follow the clock, not the timer's jitter.
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (sent < due) {
        sentAt.push(performance.now());
        ws.send(`sample ${sent}`);
        sent += 1;
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  return stats(latencies);
}

/** Starts a long primes run and resolves once it reports progress from its worker thread. */
function startPrimes(wsUrl: string): Promise<{ ws: WebSocket; runId: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsUrl}/task-runner`);
    let runId: string | undefined;
    ws.once('open', () =>
      ws.send(
        JSON.stringify({
          project: 'demo',
          domain: 'development',
          task: 'primes',
          version: 'v1',
          inputs: { n: 10_000_000_000 },
        }),
      ),
    );
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as {
        run_id?: string;
        status?: string;
        message?: string;
        error?: unknown;
        seq?: number;
      };
      if (m.seq === undefined && m.error) reject(new Error(JSON.stringify(m.error)));
      if (m.status === 'started') runId = m.run_id;
      if (runId && m.status === 'RUNNING' && /sieved/.test(m.message ?? '')) resolve({ ws, runId });
    });
    ws.once('error', reject);
  });
}

const fmt = (s: Stats) =>
  `p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  max ${s.max.toFixed(3)} ms  (${s.samples} samples)`;

const server = await createServer({
  port: 0,
  logLevel: 'silent',
  defaultMetrics: false,
  dataDir: mkdtempSync(join(tmpdir(), 'wirehub-bench-')),
  tasks: { poolSize: 2 },
});
const { wsUrl } = await server.listen();
const echo = await connect(`${wsUrl}/echo`);
// Warm up the connection and the JIT before measuring.
await measure(echo);

const idle = await measure(echo);
const runs = [await startPrimes(wsUrl), await startPrimes(wsUrl)];
const busy = await measure(echo);
const stillRunning = runs.every((r) => server.tasks?.runs.get(r.runId)?.status === 'RUNNING');
for (const r of runs) r.ws.send(JSON.stringify({ cancel: r.runId }));
await Promise.all(runs.map((r) => server.tasks?.runs.waitForEnd(r.runId)));

console.log(
  `/echo round trip at ${rate} msg/s for ${seconds} s (node ${process.version}, 2 primes runs on worker threads)`,
);
console.log(`  idle server:           ${fmt(idle)}`);
console.log(`  with 2 primes running: ${fmt(busy)}`);
console.log(`  p99 ratio (busy/idle): ${(busy.p99 / idle.p99).toFixed(2)}`);
if (!stillRunning)
  console.log('  warning: a primes run ended before the measurement did; use fewer --seconds');
for (const r of runs) r.ws.close();
echo.close();
await server.close();
