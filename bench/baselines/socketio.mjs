// Baseline: Socket.IO 4 restricted to the websocket transport (no long-polling upgrade dance).
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 8083);
const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });

io.of('/echo').on('connection', (socket) => {
  socket.on('message', (text) => socket.send(`Echo: ${text}`));
});
const room = io.of('/broadcast');
room.on('connection', (socket) => {
  socket.on('message', (text) => room.send(text));
});

http.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
