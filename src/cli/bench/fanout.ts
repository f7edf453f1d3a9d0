import { RT_SUBPROTOCOL } from '../../protocol/rt-constants.js';
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
import { RtClient } from './rt-client.js';

export interface FanoutOptions extends CommonOptions {
  /** Receiving connections; the first one also publishes. */
  subscribers: number;
  /**
   * An `/rt` channel to subscribe to and publish on (the URL is then an `/rt` endpoint).
   * Without it the URL is a plain broadcast endpoint: every text frame sent goes to every
   * client, the sender included (wirehub `/broadcast`, the baselines).
   */
  channel?: string;
  /** Publications per second; 0 publishes flat out with `inFlight` outstanding. */
  rate: number;
  /** Flat out: publications not yet received by every subscriber, at most. */
  inFlight: number;
  payloadBytes: number;
  /** Count bound on publications. */
  maxPublications: number;
  drainTimeoutMs?: number;
}

export interface FanoutResults {
  subscribers: number;
  connectFailures: number;
  publications: number;
  /** Messages received by subscribers (all of them, warm-up included). */
  deliveries: number;
  /** Deliveries that should have happened: each publication times the subscribers open then. */
  expectedDeliveries: number;
  lost: number;
  /** Deliveries that arrived out of publication order on a connection. */
  outOfOrder: number;
  /** Publications the server answered with an error (`/rt` only). */
  publishErrors: number;
  /** Subscribers the server closed during the run (e.g. 4008 slow consumer). */
  disconnects: number;
  /** Deliveries per second in the measured window. */
  deliveriesPerSec: number;
  publicationsPerSec: number;
  /** 1 when a fixed rate could not be sustained and publishing stopped early. */
  saturated: number;
}

interface Outstanding {
  /** When the publication was due (fixed rate) or sent (flat out). */
  at: number;
  /** Subscribers that have not received it yet. */
  remaining: number;
}

interface Sub {
  socket: BenchSocket;
  nextSeq: number;
  open: boolean;
}

/** Sequence number of a fan-out payload `<seq base36>:xxxx`, or -1. */
function seqOf(payload: unknown): number {
  if (typeof payload !== 'string') return -1;
  const colon = payload.indexOf(':');
  if (colon <= 0) return -1;
  const seq = Number.parseInt(payload.slice(0, colon), 36);
  return Number.isNaN(seq) ? -1 : seq;
}

/**
 * `fanout`: N subscribers of a broadcast endpoint or an `/rt` channel; one of them publishes,
 * at a fixed rate (open loop, latency measured from when each publication was due, so a
 * stalled server cannot hide its queueing) or flat out (closed loop: at most `inFlight`
 * publications not yet received by everyone). Reports deliveries/s, publish-to-receive
 * latency, loss and order.
 */
export async function runFanout(o: FanoutOptions): Promise<BenchReport<FanoutResults>> {
  const c = common(o);
  const errors = new ErrorLog();
  const startedAt = new Date().toISOString();
  const channel = o.channel;
  const rt = new Map<BenchSocket, RtClient>();
  const opened = await connectAll(
    o,
    o.subscribers,
    errors,
    channel === undefined
      ? {}
      : {
          protocols: [RT_SUBPROTOCOL],
          prepare: async (socket) => {
            const client = new RtClient(socket);
            rt.set(socket, client);
            await client.subscribe(channel);
          },
        },
  );
  const subs: Sub[] = opened.sockets.map((socket) => ({ socket, nextSeq: 0, open: true }));
  const publisher = subs[0];
  if (!publisher) throw new Error('no subscriber connected');
  const pad = filler(o.payloadBytes);
  const latency = new LatencyRecorder();
  const outstanding = new Map<number, Outstanding>();
  const rtSeqById = new Map<number, number>();
  let openSubs = subs.length;
  let published = 0;
  let deliveries = 0;
  let expectedDeliveries = 0;
  let outOfOrder = 0;
  let publishErrors = 0;
  let disconnects = 0;
  let saturated = 0;
  let publishing = true;
  let windowDeliveries = 0;
  let windowPublications = 0;
  const measured = new MeasuredWindow(o, c, () => {
    windowDeliveries = 0;
    windowPublications = 0;
    latency.reset();
  });
  const flatOut = o.rate <= 0;
  const maxOutstanding = flatOut ? o.inFlight : Math.max(100, Math.ceil(o.rate * 5));
  const finished = deadline(c.warmupMs + o.durationMs + (o.drainTimeoutMs ?? 10_000) + 1_000);
  const maybeFinish = () => {
    if (!publishing && outstanding.size === 0) finished.resolve();
  };

  const publish = (at: number) => {
    const seq = published;
    published += 1;
    if (published >= o.maxPublications) publishing = false;
    if (measured.measuring) windowPublications += 1;
    outstanding.set(seq, { at, remaining: openSubs });
    expectedDeliveries += openSubs;
    const head = `${seq.toString(36)}:`;
    const payload = head.length >= o.payloadBytes ? head : head + pad.slice(head.length);
    const client = rt.get(publisher.socket);
    if (client && channel !== undefined) rtSeqById.set(client.publish(channel, payload), seq);
    else publisher.socket.send(payload);
  };

  const complete = (seq: number) => {
    outstanding.delete(seq);
    if (flatOut && publishing && publisher.open) publish(performance.now());
    maybeFinish();
  };

  const receive = (sub: Sub, payload: unknown) => {
    const seq = seqOf(payload);
    const entry = outstanding.get(seq);
    if (seq < 0 || seq < sub.nextSeq || !entry) {
      outOfOrder += 1;
      errors.add(`unexpected or out-of-order delivery: ${String(payload).slice(0, 40)}`);
      return;
    }
    sub.nextSeq = seq + 1;
    deliveries += 1;
    if (measured.measuring) {
      windowDeliveries += 1;
      latency.record(performance.now() - entry.at);
    }
    entry.remaining -= 1;
    if (entry.remaining === 0) complete(seq);
  };

  for (const sub of subs) {
    const client = rt.get(sub.socket);
    if (client) {
      client.onPublication = (ch, data) => {
        if (ch === channel) receive(sub, data);
      };
      client.onCommandError = (id, code, message) => {
        errors.add(`${code}: ${message}`);
        const seq = rtSeqById.get(id);
        if (seq === undefined) return;
        rtSeqById.delete(id);
        const entry = outstanding.get(seq);
        if (!entry) return;
        publishErrors += 1;
        expectedDeliveries -= entry.remaining;
        complete(seq);
      };
    } else {
      sub.socket.onMessage = (text) => receive(sub, text);
    }
    const onClose = sub.socket.onClose;
    sub.socket.onClose = (code) => {
      onClose(code);
      if (!sub.open) return;
      sub.open = false;
      openSubs -= 1;
      if (publishing) {
        disconnects += 1;
        errors.add(`server closed a subscriber with ${code}`);
      }
      if (sub === publisher) publishing = false;
      // What this subscriber had not received yet will never come.
      for (const [seq, entry] of [...outstanding]) {
        if (seq < sub.nextSeq) continue;
        entry.remaining -= 1;
        if (entry.remaining === 0) complete(seq);
      }
      maybeFinish();
    };
  }

  measured.schedule();
  const stopTicker = windowTicker(c.progress, 'fanout', c.warmupMs + o.durationMs);
  const stopTimer = setTimeout(() => {
    publishing = false;
    maybeFinish();
  }, c.warmupMs + o.durationMs);
  let pacer: NodeJS.Timeout | undefined;
  if (flatOut) {
    for (let i = 0; i < o.inFlight && publishing; i += 1) publish(performance.now());
  } else {
    const t0 = performance.now();
    const interval = 1000 / o.rate;
    pacer = setInterval(
      () => {
        const due = Math.floor((performance.now() - t0) / interval) + 1;
        while (publishing && published < due) {
          if (outstanding.size >= maxOutstanding) {
            saturated = 1;
            publishing = false;
            errors.add(
              `the server fell ${maxOutstanding} publications behind ${o.rate}/s: stopped publishing`,
            );
            break;
          }
          publish(t0 + published * interval);
        }
        if (!publishing) {
          clearInterval(pacer);
          maybeFinish();
        }
      },
      Math.max(1, Math.min(20, interval)),
    );
  }
  await finished.promise;
  clearTimeout(stopTimer);
  clearInterval(pacer);
  publishing = false;
  stopTicker();
  const { windowMs, server } = await measured.close(() => windowDeliveries);
  await closeAll(opened.sockets);
  return buildReport({
    scenario: 'fanout',
    o,
    c,
    startedAt,
    windowMs,
    params: {
      subscribers: o.subscribers,
      mode: channel === undefined ? 'broadcast' : `rt:${channel}`,
      rate: o.rate,
      inFlight: o.inFlight,
      payloadBytes: o.payloadBytes,
      durationMs: o.durationMs,
      warmupMs: c.warmupMs,
      maxPublications: o.maxPublications,
    },
    results: {
      subscribers: subs.length,
      connectFailures: opened.failures,
      publications: published,
      deliveries,
      expectedDeliveries,
      lost: expectedDeliveries - deliveries,
      outOfOrder,
      publishErrors,
      disconnects,
      deliveriesPerSec: round((windowDeliveries * 1000) / windowMs),
      publicationsPerSec: round((windowPublications * 1000) / windowMs),
      saturated,
    },
    latencyMs: latency.summary(),
    server,
    errors,
  });
}
