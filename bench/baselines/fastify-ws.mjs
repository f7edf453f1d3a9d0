// Baseline: Fastify 5 with @fastify/websocket, the usual way to add WebSockets to Fastify.
import websocket from '@fastify/websocket';
import Fastify from 'fastify';

const port = Number(process.env.PORT ?? 8082);
const app = Fastify({ logger: false });
await app.register(websocket, { options: { perMessageDeflate: false } });
const broadcast = new Set();

app.get('/echo', { websocket: true }, (socket) => {
  socket.on('message', (data) => socket.send(`Echo: ${data}`));
});
app.get('/broadcast', { websocket: true }, (socket) => {
  broadcast.add(socket);
  socket.on('close', () => broadcast.delete(socket));
  socket.on('message', (data, isBinary) => {
    const text = isBinary ? data : data.toString();
    for (const client of broadcast) client.send(text);
  });
});

await app.listen({ port, host: '127.0.0.1' });
console.log(`listening ${port}`);
