// Baseline: the `ws` library on node:http, with the naive broadcast loop everyone writes first.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 8081);
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const broadcast = new Set();

wss.on('connection', (ws, req) => {
  if (req.url === '/broadcast') {
    broadcast.add(ws);
    ws.on('close', () => broadcast.delete(ws));
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? data : data.toString();
      for (const client of broadcast) client.send(text);
    });
  } else {
    ws.on('message', (data) => ws.send(`Echo: ${data}`));
  }
});

const server = createServer((_req, res) => res.writeHead(426).end());
server.on('upgrade', (req, socket, head) => {
  if (req.url !== '/echo' && req.url !== '/broadcast') return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
