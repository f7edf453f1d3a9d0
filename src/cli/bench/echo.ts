import {
  buildReport,
  type CommonOptions,
  closeAll,
  common,
  connectAll,
  deadline,
  ErrorLog,
  filler,
  MeasuredWindow,
  windowTicker,
} from './common.js';
import type { BenchSocket } from './driver.js';
import { LatencyRecorder } from './latency.js';
import { round } from './proc-stats.js';
import type { BenchReport } from './report.js';

export interface EchoOptions extends CommonOptions {
  /** Connections, each with its own closed loop. */
  connections: number;
  /** Messages outstanding per connection: a reply lets the next message go. */
  inFlight: number;
  /** Size of each message in bytes (at least its sequence prefix). */
  payloadBytes: number;
  /** Count bound: no more than this many messages are sent in all. */
  maxMessages: number;
  /** After sending stops, how long to wait for the last replies before counting them lost. */
  drainTimeoutMs?: number;
}

export interface EchoResults {
  connections: number;
  connectFailures: number;
  sent: number;
  received: number;
  /** Sent messages whose reply never came. */
  lost: number;
  /** Replies that did not end with the message they answer (wrong order or content). */
  mismatched: number;
  /** Connections the server closed during the run. */
  closedEarly: number;
  /** Replies per second in the measured window. */
  messagesPerSec: number;
}

interface Conn {
  socket: BenchSocket;
  /** Messages sent and not yet answered, oldest first, with their send time. */
  texts: string[];
  times: number[];
  open: boolean;
}

/**
 * `echo`: C connections each keep K messages in flight; every reply must end with the
 * message it answers (so `Echo: <text>` and a bare echo both pass) and releases the next
 * message. Reports replies/s, round-trip latency, and loss.
 */
export async function runEcho(o: EchoOptions): Promise<BenchReport<EchoResults>> {
  const c = common(o);
  const errors = new ErrorLog();
  const startedAt = new Date().toISOString();
  const opened = await connectAll(o, o.connections, errors);
  const pad = filler(o.payloadBytes);
  const latency = new LatencyRecorder();
  let sent = 0;
  let received = 0;
  let mismatched = 0;
  let closedEarly = 0;
  let outstanding = 0;
  let sending = true;
  let windowReceived = 0;
  const measured = new MeasuredWindow(o, c, () => {
    windowReceived = 0;
    latency.reset();
  });
  const finished = deadline(c.warmupMs + o.durationMs + (o.drainTimeoutMs ?? 5_000) + 1_000);
  const maybeFinish = () => {
    if (!sending && outstanding === 0) finished.resolve();
  };

  const sendOne = (conn: Conn) => {
    const head = `${sent.toString(36)}:`;
    const text = head.length >= o.payloadBytes ? head : head + pad.slice(head.length);
    sent += 1;
    if (sent >= o.maxMessages) sending = false;
    outstanding += 1;
    conn.texts.push(text);
    conn.times.push(performance.now());
    conn.socket.send(text);
  };

  const conns: Conn[] = opened.sockets.map((socket) => ({ socket, texts: [], times: [], open: true }));
  for (const conn of conns) {
    conn.socket.onMessage = (reply) => {
      const text = conn.texts.shift();
      const at = conn.times.shift();
      if (text === undefined || at === undefined) {
        mismatched += 1;
        errors.add(`unexpected message: ${reply.slice(0, 60)}`);
        return;
      }
      outstanding -= 1;
      received += 1;
      if (!reply.endsWith(text)) {
        mismatched += 1;
        errors.add(`reply does not match the message it answers: ${reply.slice(0, 60)}`);
      }
      if (measured.measuring) {
        windowReceived += 1;
        latency.record(performance.now() - at);
      }
      if (sending) sendOne(conn);
      else maybeFinish();
    };
    conn.socket.onClose = (code) => {
      if (!conn.open) return;
      conn.open = false;
      if (sending) {
        closedEarly += 1;
        errors.add(`server closed a connection with ${code}`);
      }
      outstanding -= conn.texts.length;
      conn.texts = [];
      conn.times = [];
      if (conns.every((x) => !x.open)) sending = false;
      maybeFinish();
    };
  }

  measured.schedule();
  const stopTicker = windowTicker(c.progress, 'echo', c.warmupMs + o.durationMs);
  const stopTimer = setTimeout(() => {
    sending = false;
    maybeFinish();
  }, c.warmupMs + o.durationMs);
  for (const conn of conns) {
    for (let k = 0; k < o.inFlight && sending; k += 1) sendOne(conn);
  }
  await finished.promise;
  clearTimeout(stopTimer);
  sending = false;
  stopTicker();
  const { windowMs, server } = await measured.close(() => windowReceived);
  await closeAll(opened.sockets);
  return buildReport({
    scenario: 'echo',
    o,
    c,
    startedAt,
    windowMs,
    params: {
      connections: o.connections,
      inFlight: o.inFlight,
      payloadBytes: o.payloadBytes,
      durationMs: o.durationMs,
      warmupMs: c.warmupMs,
      maxMessages: o.maxMessages,
    },
    results: {
      connections: opened.sockets.length,
      connectFailures: opened.failures,
      sent,
      received,
      lost: sent - received,
      mismatched,
      closedEarly,
      messagesPerSec: round((windowReceived * 1000) / windowMs),
    },
    latencyMs: latency.summary(),
    server,
    errors,
  });
}
