/**
 * One load-generator process of bench/reconnect-storm.ts (forked with IPC). It holds its share
 * of /rt connections from its own source address, each subscribed to one channel, and keeps
 * every connection's last position (epoch, offset). When the server drops them, each
 * reconnects (jittered, retrying until the server is back) and resubscribes with `since`;
 * the process reports how many came back and whether each recovered.
 *
 * Parent → worker: {cmd:'open'}, {cmd:'count'}, {cmd:'exit'}. Worker → parent: {type:'opened'},
 * {type:'counts'}, {type:'back'} once all its connections are back.
 */
import { wsDriver } from '../../src/cli/bench/driver.js';
import { RtClient } from '../../src/cli/bench/rt-client.js';

const cfg = JSON.parse(process.env.STORM_CONFIG ?? '{}') as {
  url: string;
  first: number;
  count: number;
  channels: number;
  localAddress: string;
  concurrency: number;
};

interface Position {
  epoch: string;
  offset: number;
}

interface Conn {
  index: number;
  channel: string;
  position: Position | undefined;
  /** Publications received live, and replayed on recovery. */
  received: number;
  replayed: number;
  state: 'open' | 'down' | 'back';
  recovered: boolean | undefined;
}

const conns: Conn[] = [];
let reconnectFailures = 0;
let back = 0;
let dropped = 0;
let firstBackAt = 0;
let lastBackAt = 0;
const errors = new Map<string, number>();

function note(err: unknown): void {
  const key = (err instanceof Error ? err.message : String(err)).slice(0, 80);
  errors.set(key, (errors.get(key) ?? 0) + 1);
}

async function connect(conn: Conn, since: Position | undefined): Promise<void> {
  const socket = await wsDriver.connect(cfg.url, {
    timeoutMs: 20_000,
    protocols: ['wirehub.v1'],
    localAddress: cfg.localAddress,
  });
  const client = new RtClient(socket);
  client.onPublication = () => {};
  // Positions come with every push; RtClient hands over the data only, so read the frame.
  const receive = socket.onMessage;
  socket.onMessage = (text) => {
    const msg = JSON.parse(text) as { op?: string; epoch?: string; offset?: number };
    if (msg.op === 'message' && msg.epoch !== undefined && msg.offset !== undefined) {
      conn.position = { epoch: msg.epoch, offset: msg.offset };
      conn.received += 1;
    }
    receive(text);
  };
  const previous = socket.onClose;
  socket.onClose = (code) => {
    previous(code);
    if (conn.state === 'down') return;
    conn.state = 'down';
    dropped += 1;
    void reconnect(conn);
  };
  const result = (await client.subscribe(conn.channel, since)) as Partial<Position> & {
    recovered?: boolean;
    publications?: { epoch: string; offset: number }[];
  };
  const last = result.publications?.at(-1);
  if (last) conn.position = { epoch: last.epoch, offset: last.offset };
  else if (result.epoch !== undefined && result.offset !== undefined)
    conn.position = { epoch: result.epoch, offset: result.offset };
  if (since) {
    conn.recovered = result.recovered === true;
    conn.replayed += result.publications?.length ?? 0;
  }
}

async function reconnect(conn: Conn): Promise<void> {
  // Real clients back off with jitter; the first attempt comes within 250 ms of the drop.
  let delay = 50 + Math.random() * 200;
  for (;;) {
    await new Promise((r) => setTimeout(r, delay));
    try {
      await connect(conn, conn.position);
      conn.state = 'back';
      back += 1;
      lastBackAt = Date.now();
      if (firstBackAt === 0) firstBackAt = lastBackAt;
      if (back === conns.length) process.send?.({ type: 'back', ...counts() });
      return;
    } catch (err) {
      reconnectFailures += 1;
      note(err);
      delay = Math.min(2_000, delay * 1.5) * (0.75 + Math.random() * 0.5);
    }
  }
}

function counts() {
  let recovered = 0;
  let notRecovered = 0;
  let replayed = 0;
  let received = 0;
  for (const c of conns) {
    if (c.recovered === true) recovered += 1;
    if (c.recovered === false) notRecovered += 1;
    replayed += c.replayed;
    received += c.received;
  }
  return {
    open: conns.filter((c) => c.state !== 'down').length,
    dropped,
    back,
    recovered,
    notRecovered,
    replayed,
    received,
    reconnectFailures,
    firstBackAt,
    lastBackAt,
    errors: Object.fromEntries(errors),
  };
}

async function openAll(): Promise<void> {
  for (let i = 0; i < cfg.count; i += 1) {
    const index = cfg.first + i;
    conns.push({
      index,
      channel: `chat:storm-${index % cfg.channels}`,
      position: undefined,
      received: 0,
      replayed: 0,
      state: 'open',
      recovered: undefined,
    });
  }
  let next = 0;
  const worker = async () => {
    while (next < conns.length) {
      const conn = conns[next++] as Conn;
      try {
        await connect(conn, undefined);
      } catch (err) {
        note(err);
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, worker));
}

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'open') {
    openAll().then(
      () => process.send?.({ type: 'opened', ...counts() }),
      (err: unknown) => process.send?.({ type: 'failed', error: String(err), ...counts() }),
    );
  } else if (msg.cmd === 'count') {
    process.send?.({ type: 'counts', ...counts() });
  } else if (msg.cmd === 'exit') {
    process.exit(0);
  }
});
