// What security headers cost an HTTP answer: GET /healthz on three Fastify apps in this
// process (no headers; @fastify/helmet on every answer, as `global: true` does; wirehub's
// installSecurityHeaders: a fixed set on every answer, helmet for pages only), 16 keep-alive
// sockets. Rounds alternate between the apps (21 rounds); each ratio is the median of the
// per-round ratios against no headers. Why it matters: helmet builds its middleware on every
// request it handles. Run: npm run bench:headers

import { Agent, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import { installSecurityHeaders } from '../src/server/security/security-headers.js';

const ROUNDS = 21;
const REQUESTS = 4_000;
const SOCKETS = 16;

const variants: Record<string, (app: FastifyInstance) => unknown> = {
  'no headers': () => {},
  'helmet on every answer': (app) =>
    app.register(helmet, {
      global: true,
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'self'"], connectSrc: ["'self'", (req) => `ws://${req.headers.host}`] },
      },
    }),
  'wirehub (fixed set + pages)': (app) =>
    installSecurityHeaders(app, { tls: false, host: (req) => req.headers.host }),
};

async function start(install: (app: FastifyInstance) => unknown): Promise<FastifyInstance> {
  const app = Fastify();
  await install(app);
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

/** Requests per second for `n` GETs over `SOCKETS` keep-alive sockets. */
async function rate(app: FastifyInstance, n: number): Promise<number> {
  const { port } = app.server.address() as AddressInfo;
  const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
  const once = () =>
    new Promise<void>((resolve, reject) =>
      get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject),
    );
  let left = n;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: SOCKETS }, async () => {
      while (left-- > 0) await once();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return n / seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const apps = new Map<string, FastifyInstance>();
for (const [name, install] of Object.entries(variants)) {
  const app = await start(install);
  await rate(app, REQUESTS); // warm-up
  apps.set(name, app);
}
const rates = new Map<string, number[]>([...apps.keys()].map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round += 1) {
  for (const [name, app] of apps) rates.get(name)?.push(await rate(app, REQUESTS));
}
const base = rates.get('no headers') ?? [];
console.log(`GET /healthz, ${ROUNDS} rounds x ${REQUESTS} requests, ${SOCKETS} keep-alive sockets`);
for (const [name, xs] of rates) {
  const ratio = median(xs.map((x, i) => x / (base[i] ?? x)));
  console.log(
    `${name.padEnd(28)} ${median(xs).toFixed(0).padStart(7)} req/s   ${ratio.toFixed(2)}x no headers`,
  );
}
for (const app of apps.values()) await app.close();
