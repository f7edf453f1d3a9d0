// Baseline: Bun's own server (uWebSockets inside), bare: `bun bench/baselines/bun-bare.mjs`.
// /echo answers each text frame with `Echo: <text>`; /broadcast fans each frame out to every
// /broadcast client (sender included) with Bun's native topic publish.
const port = Number(process.env.PORT ?? 8081);

const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch(req, srv) {
    const path = new URL(req.url).pathname;
    if (path !== '/echo' && path !== '/broadcast') return new Response(null, { status: 404 });
    if (srv.upgrade(req, { data: { path } })) return undefined;
    return new Response(null, { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    idleTimeout: 0,
    open(ws) {
      if (ws.data.path === '/broadcast') ws.subscribe('broadcast');
    },
    message(ws, message) {
      if (ws.data.path === '/broadcast') server.publish('broadcast', message);
      else ws.send(`Echo: ${message}`);
    },
  },
});
console.log(`listening ${server.port}`);
