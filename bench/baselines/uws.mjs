// Baseline: uWebSockets.js, the C++ server with a Node binding: the ceiling, not a peer.
// Loaded through bench/support/uws.ts (which explains the provenance and the glibc shim).
const port = Number(process.env.PORT ?? 8084);
const binding = process.env.UWS_BINDING;
if (!binding) throw new Error('UWS_BINDING (path of the uws_*.node binary) is not set');
const module = { exports: {} };
process.dlopen(module, binding);
/** @type {any} */
const uWS = module.exports;

const prefix = Buffer.from('Echo: ');
const app = uWS.App();
app.ws('/echo', {
  compression: uWS.DISABLED,
  message: (ws, message, isBinary) => {
    ws.send(Buffer.concat([prefix, Buffer.from(message)]), isBinary);
  },
});
app.ws('/broadcast', {
  compression: uWS.DISABLED,
  open: (ws) => ws.subscribe('broadcast'),
  message: (_ws, message, isBinary) => {
    app.publish('broadcast', message, isBinary);
  },
});
app.any('/*', (res) => res.writeStatus('426 Upgrade Required').end());
app.listen('127.0.0.1', port, (token) => {
  if (!token) {
    console.error(`cannot listen on ${port}`);
    process.exit(1);
  }
  console.log(`listening ${port}`);
});
