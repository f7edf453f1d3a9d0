import type { Actor, ActorContext } from './actor.js';
import { type CheckResult, check } from './checker.js';
import { History, type Position, payloadKey } from './history.js';
import { type Observer, RtObserver, SdkObserver } from './observers.js';
import { PlainClient } from './plain-client.js';
import { Prng } from './prng.js';
import { HttpPublisher, RtPublisher } from './publishers.js';
import { RunStarter } from './run-starter.js';
import { describeStep, type Schedule, type Step } from './schedule.js';
import { describeFault, type SetUp } from './setup.js';

/** How long, once everything is healed, observers may take to catch up and runs to end. */
const SETTLE_MS = 30_000;
const FLOOD_PAD_BYTES = 32 * 1024;
const FLOOD_MAX = 4_000;

export interface ScheduleRun {
  schedule: Schedule;
  history: History;
  result: CheckResult;
  /** Faults injected (slow consumers and dropped connections included). */
  faults: number;
  durationMs: number;
  /** The set-up's process output, for a report. */
  logs: string;
  /** A step or the settling failed (a node that did not come back, a hang): the run is a failure. */
  error?: string;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']);

/** The clients of a schedule, by kind. */
class Cast {
  readonly all = new Map<string, Actor>();
  readonly observers: (Observer & Actor)[] = [];
  readonly publishers: Actor[] = [];
  readonly plain: PlainClient[] = [];
  readonly runners: RunStarter[] = [];

  constructor(schedule: Schedule, ctx: ActorContext) {
    const rng = new Prng(schedule.seed ^ 0x5eed);
    for (const spec of schedule.actors) {
      const fork = rng.fork();
      let actor: Actor;
      switch (spec.kind) {
        case 'rt-pub':
          actor = new RtPublisher(spec.id, spec.home, ctx, fork, spec);
          this.publishers.push(actor);
          break;
        case 'http-pub':
          actor = new HttpPublisher(spec.id, spec.home, ctx, fork, spec);
          this.publishers.push(actor);
          break;
        case 'flooder':
          // Idle but for surges and floods.
          actor = new RtPublisher(spec.id, spec.home, ctx, fork, {
            channels: schedule.historyChannels,
            burst: 0,
            paceMs: 0,
          });
          this.publishers.push(actor);
          break;
        case 'plain': {
          const plain = new PlainClient(spec.id, spec.home, ctx, fork, spec);
          this.plain.push(plain);
          actor = plain;
          break;
        }
        case 'rt-sub': {
          const observer = new RtObserver(spec.id, spec.home, ctx, fork, spec);
          this.observers.push(observer);
          actor = observer;
          break;
        }
        case 'sdk-sub': {
          const observer = new SdkObserver(spec.id, spec.home, ctx, fork, spec);
          this.observers.push(observer);
          actor = observer;
          break;
        }
        case 'runner': {
          const runner = new RunStarter(spec.id, spec.home, ctx, fork, spec);
          this.runners.push(runner);
          actor = runner;
          break;
        }
      }
      this.all.set(spec.id, actor);
    }
  }

  get<T extends Actor>(id: string, type: abstract new (...args: never[]) => T): T {
    const actor = this.all.get(id);
    if (!(actor instanceof type)) throw new Error(`the schedule has no ${type.name} ${id}`);
    return actor;
  }
}

/**
 * Runs one schedule on a fresh set-up (started here and stopped at the end), records the
 * history, settles (heals, lets observers catch up and runs end, reads every channel's
 * history and every run's record) and checks it.
 */
export async function runSchedule(
  schedule: Schedule,
  setup: SetUp,
  progress?: (line: string) => void,
): Promise<ScheduleRun> {
  const history = new History();
  const ctx: ActorContext = { history, setup };
  let faults = 0;
  let error: string | undefined;
  await setup.start();
  progress?.(`  +${((Date.now() - history.startedAt) / 1000).toFixed(1)}s ${setup.name} started`);
  const cast = new Cast(schedule, ctx);
  try {
    // Observers first, so they see the traffic from its start.
    for (const o of cast.observers) o.start();
    await history.until(
      () => cast.observers.every((o) => o.channels.every((c) => subscribedOnce(history, o.id, c))),
      'every observer subscribed',
    );
    for (const a of [...cast.plain, ...cast.publishers]) a.start();
    for (const step of schedule.steps) {
      progress?.(`  ${stepLine(step, history.startedAt)}`);
      faults += await runStep(step, cast, ctx);
    }
    progress?.(`  ${stepLine({ kind: 'traffic', outcomes: 0 }, history.startedAt)} (settling)`);
    await settle(schedule, cast, ctx);
    progress?.(`  +${((Date.now() - history.startedAt) / 1000).toFixed(1)}s settled`);
  } catch (err) {
    error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  } finally {
    for (const a of cast.all.values()) await a.stop().catch(() => {});
    await setup.stop().catch(() => {});
  }
  const result = check(history.events, {
    hasHistory: (channel) => channel.startsWith('chat:') || channel.startsWith('run:'),
    runsMayBeLost: setup.lostStore,
  });
  return {
    schedule,
    history,
    result,
    faults,
    durationMs: Date.now() - history.startedAt,
    logs: setup.logs(),
    ...(error ? { error } : {}),
  };
}

function stepLine(step: Step, startedAt: number): string {
  return `+${((Date.now() - startedAt) / 1000).toFixed(1)}s ${describeStep(step)}`;
}

function subscribedOnce(history: History, actor: string, channel: string): boolean {
  return history.events.some((e) => e.type === 'subscribed' && e.actor === actor && e.channel === channel);
}

/** Runs one step; resolves with the number of faults it injected. */
async function runStep(step: Step, cast: Cast, ctx: ActorContext): Promise<number> {
  const { history, setup } = ctx;
  switch (step.kind) {
    case 'traffic':
      await history.afterOutcomes(step.outcomes);
      return 0;
    case 'fault': {
      const what = describeFault(step.fault);
      const surging = step.surge ? cast.publishers.filter((p) => p instanceof RtPublisher) : [];
      for (const p of surging) p.surge(step.surge);
      // Hit while the node is busy with the surge (acks and commits interleaving).
      if (step.surge) await history.afterOutcomes(step.surge);
      history.add({ type: 'fault', phase: 'inject', fault: what });
      await setup.inject(step.fault);
      for (const p of surging) p.surge(undefined);
      await history.afterRounds(step.hold);
      await setup.heal(step.fault);
      history.add({ type: 'fault', phase: 'heal', fault: what });
      await setup.ready();
      return 1;
    }
    case 'slow': {
      const slow = cast.get(step.actor, RtObserver);
      const flooder = cast.get(step.flooder, RtPublisher);
      const what = `slow-consumer ${slow.id} on ${step.channel}`;
      const node = setup.entry(slow.node);
      const before = await slowDisconnects(node.url);
      history.add({ type: 'fault', phase: 'inject', fault: what });
      slow.pause();
      try {
        await flooder.flood(
          step.channel,
          FLOOD_PAD_BYTES,
          async () => (await slowDisconnects(node.url)) > before,
          FLOOD_MAX,
        );
      } finally {
        slow.resume();
      }
      history.add({ type: 'fault', phase: 'heal', fault: what });
      return 1;
    }
    case 'runs':
      await cast.get(step.actor, RunStarter).startRuns(step.count);
      return 0;
    case 'drop': {
      const actor = cast.all.get(step.actor) as (Actor & { drop?: () => void }) | undefined;
      if (!actor?.drop) throw new Error(`${step.actor} cannot drop its connection`);
      history.add({ type: 'fault', phase: 'inject', fault: `drop ${step.actor}` });
      actor.drop();
      return 1;
    }
  }
}

/** `wirehub_slow_consumer_disconnects_total` of `/rt` on a node (0 before the first). */
async function slowDisconnects(url: string): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = /^wirehub_slow_consumer_disconnects_total\{endpoint="rt"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * After the last step: everything is healed; publishers stop; observers must reach the head
 * of every channel (else a `stuck` event); then every channel's history and every run's
 * record are read for the checker.
 */
async function settle(schedule: Schedule, cast: Cast, ctx: ActorContext): Promise<void> {
  const { history, setup } = ctx;
  await setup.ready();
  for (const a of [...cast.publishers, ...cast.plain]) await a.stop();
  const base = setup.entry(0).url;
  const heads = new Map<string, Position>();
  for (const channel of schedule.historyChannels) heads.set(channel, await head(base, channel));
  const lagging = () =>
    cast.observers.flatMap((o) =>
      o.channels.flatMap((channel) => {
        const target = heads.get(channel);
        const at = o.position(channel);
        if (!target || (at?.epoch === target.epoch && at.offset === target.offset)) return [];
        return [{ o, channel, at, target }];
      }),
    );
  try {
    await history.until(
      () => lagging().length === 0,
      'every observer at the head of its channels',
      SETTLE_MS,
    );
  } catch {
    for (const { o, channel, at, target } of lagging())
      history.add({ type: 'stuck', actor: o.id, channel, head: target, ...(at ? { position: at } : {}) });
  }
  for (const o of cast.observers) await o.stop();
  for (const channel of schedule.historyChannels) await readHistory(base, channel, ctx);
  await readRuns(base, ctx);
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

interface HistoryPage {
  epoch: string;
  offset: number;
  complete: boolean;
  publications: { offset: number; data: unknown }[];
}

async function head(base: string, channel: string): Promise<Position> {
  const { body } = await getJson<HistoryPage>(`${base}/api/channels/${channel}/history?limit=1`);
  return { epoch: body.epoch, offset: body.offset };
}

/** Every publication of the channel's current epoch, paged oldest first. */
async function readHistory(base: string, channel: string, { history }: ActorContext): Promise<void> {
  const { epoch, offset } = await head(base, channel);
  const publications: { offset: number; key: string }[] = [];
  let since = 0;
  for (;;) {
    const { body } = await getJson<HistoryPage>(
      `${base}/api/channels/${channel}/history?since=${since}&epoch=${encodeURIComponent(epoch)}&limit=1000`,
    );
    if (body.epoch !== epoch) throw new Error(`${channel}: the epoch changed while its history was read`);
    for (const p of body.publications) publications.push({ offset: p.offset, key: payloadKey(p.data) });
    const last = body.publications.at(-1);
    if (!last || last.offset >= offset) break;
    since = last.offset;
  }
  history.add({ type: 'history', channel, epoch, offset, publications });
}

/** Waits (bounded) for every run that was started to end, then records its record. */
async function readRuns(base: string, { history }: ActorContext): Promise<void> {
  const runs = [...new Set(history.events.flatMap((e) => (e.type === 'run-started' ? [e.run] : [])))];
  const deadline = Date.now() + SETTLE_MS;
  for (const run of runs) {
    for (;;) {
      const { status, body } = await getJson<{
        status?: string;
        updates?: { seq: number; status: string }[];
      }>(`${base}/api/runs/${run}`);
      const ended = status === 200 && TERMINAL.has(body.status ?? '');
      if (status === 404 || ended || Date.now() > deadline) {
        history.add({
          type: 'run-record',
          run,
          found: status !== 404,
          ...(body.status ? { status: body.status } : {}),
          updates: (body.updates ?? []).map((u) => ({ seq: u.seq, status: u.status })),
        });
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
