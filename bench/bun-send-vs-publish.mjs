// Why fan-out on Bun wants topic publish: server CPU per delivery of 64-byte text frames to
// 1,000 local clients, 2,000 publications, sent (a) with one ServerWebSocket.sendText per
// client, as wirehub's per-session send does, (b) the same with cork(), (c) with one
// server.publish to a topic all of them joined.
//   node bench/bun-send-vs-publish.mjs        (starts the server under Bun for each mode)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { findBun } from '../scripts/bun-path.mjs';

const CLIENTS = 1000;
const PUBLICATIONS = 2000;
const self = fileURLToPath(import.meta.url);

if (process.env.BENCH_MODE) {
  // The server, under Bun.
  const mode = process.env.BENCH_MODE;
  const sockets = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req, { data: {} }) ? undefined : new Response(null, { status: 426 })),
    websocket: {
      perMessageDeflate: false,
      idleTimeout: 0,
      open(ws) {
        sockets.push(ws);
        ws.subscribe('t');
      },
      message(ws) {
        const text = 'x'.repeat(64);
        const t0 = process.cpuUsage();
        for (let i = 0; i < PUBLICATIONS; i++) {
          if (mode === 'publish') server.publish('t', text);
          else if (mode === 'cork') for (const s of sockets) s.cork(() => s.sendText(text, false));
          else for (const s of sockets) s.sendText(text, false);
        }
        const cpu = process.cpuUsage(t0);
        ws.sendText(`done ${((cpu.user + cpu.system) / (PUBLICATIONS * sockets.length)).toFixed(3)}`);
      },
    },
  });
  console.log(`port ${server.port}`);
} else {
  for (const mode of ['sendText', 'cork', 'publish']) {
    const child = spawn(findBun(), [self], {
      env: { ...process.env, BENCH_MODE: mode },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = await once(child.stdout, 'data');
    const port = /port (\d+)/.exec(String(line))?.[1];
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
        ws.on('message', () => {});
        await once(ws, 'open');
        return ws;
      }),
    );
    const first = clients[0];
    const done = new Promise((resolve) =>
      first.on('message', (m) => String(m).startsWith('done') && resolve(String(m).slice(5))),
    );
    first.send('go');
    console.log(`${mode.padEnd(8)} ${await done} µs server CPU per delivery`);
    for (const ws of clients) ws.terminate();
    child.kill();
  }
}
