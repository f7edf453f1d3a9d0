// What permission checks cost. (1) Permissions.can() per call, for a grant of `*` and for 20
// and 256 patterns. (2) /rt publish commands per second through a real server: auth off
// (everything granted) against a JWT whose grants hold 20 channel patterns, in the same run.
// Run: npm run build && node bench/grants.mjs
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { Permissions } from '../dist/hub/permissions.js';
import { createServer } from '../dist/server/create-server.js';

const CALLS = 1_000_000;
const COMMANDS = Number(process.env.N ?? 20_000);
const WINDOW = 100; // commands in flight
const ROUNDS = 5;
const SECRET = 'bench-secret-that-is-long-enough-0123456789';

const patterns = (n) => Array.from({ length: n }, (_, i) => `team-${i}:*`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function nsPerCan(grants) {
  const p = new Permissions(grants, 'alice');
  const channels = Array.from({ length: 64 }, (_, i) => `team-${i % 20}:room-${i}`);
  let hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i += 1) if (p.can('publish', channels[i & 63])) hits += 1;
  const ns = Number(process.hrtime.bigint() - t0) / CALLS;
  if (hits === 0) throw new Error('nothing matched');
  return ns;
}

async function commandsPerSecond(server, query) {
  const { wsUrl } = server.address();
  const ws = new WebSocket(`${wsUrl}/rt${query}`, 'wirehub.v1');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let sent = 0;
  let answered = 0;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const sendOne = () => {
      sent += 1;
      ws.send(JSON.stringify({ op: 'publish', id: sent, channel: `team-7:room-${sent % 10}`, data: 'x' }));
    };
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.op === 'error') reject(new Error(`${frame.code}: ${frame.message}`));
      answered += 1;
      if (answered === COMMANDS) resolve();
      else if (sent < COMMANDS) sendOne();
    });
    for (let i = 0; i < WINDOW; i += 1) sendOne();
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  ws.close();
  return COMMANDS / s;
}

async function serve(auth) {
  const server = await createServer({
    port: 0,
    logLevel: 'silent',
    defaultMetrics: false,
    dataDir: mkdtempSync(join(tmpdir(), 'wirehub-bench-')),
    namespaces: [{ pattern: 'team-7:*' }],
    limits: { messageRate: 0, ipConnectionRate: 0, maxConnectionsPerIp: 0 },
    tasks: false,
    ...(auth ? { auth: { jwtSecret: SECRET } } : {}),
  });
  await server.listen();
  return server;
}

console.log(`Permissions.can(), ${CALLS} calls each (median of ${ROUNDS}):`);
for (const [label, grants] of [
  ['publish: ["*"]', { publish: ['*'] }],
  ['20 patterns', { publish: patterns(20) }],
  ['256 patterns', { publish: patterns(256) }],
]) {
  const runs = Array.from({ length: ROUNDS }, () => nsPerCan(grants));
  console.log(`  ${label.padEnd(16)} ${median(runs).toFixed(1)} ns/call`);
}

const sign = (claims) =>
  new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
const open = await serve(false);
const secured = await serve(true);
const cases = [
  ['auth off (everything granted)', open, ''],
  // Same user and frames as the next case, with every grant: isolates the cost of narrow grants.
  ['JWT, every grant', secured, `?access_token=${await sign({})}`],
  [
    'JWT with 20 channel patterns',
    secured,
    `?access_token=${await sign({ wirehub: { endpoints: ['rt'], publish: patterns(20) } })}`,
  ],
];
const results = cases.map(() => []);
for (let r = 0; r < ROUNDS; r += 1) {
  // Rotate the order each round, so warm-up and GC do not favour one case.
  for (let k = 0; k < cases.length; k += 1) {
    const i = (k + r) % cases.length;
    const [, server, query] = cases[i];
    results[i].push(await commandsPerSecond(server, query));
  }
}
await open.close();
await secured.close();
const base = median(results[0]);
console.log(`/rt publish commands, ${COMMANDS} per round, ${WINDOW} in flight (median of ${ROUNDS}):`);
cases.forEach(([label], i) => {
  const m = median(results[i]);
  console.log(`  ${label.padEnd(32)} ${String(Math.round(m)).padStart(7)}/s  ratio ${(m / base).toFixed(3)}`);
});
