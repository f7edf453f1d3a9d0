import { Prng } from './prng.js';
import { describeFault, type Fault, type SetUp, type SetUpFault } from './setup.js';

/** The clients of a schedule. Every publisher's payloads are unique (`<id>/<connection>/<seq>`). */
export type ActorSpec =
  | { kind: 'rt-pub'; id: string; home: number; channels: string[]; burst: number; paceMs: number }
  | { kind: 'http-pub'; id: string; home: number; channels: string[]; paceMs: number }
  /** Publishes big payloads on request only (slow-consumer steps). */
  | { kind: 'flooder'; id: string; home: number }
  | {
      kind: 'plain';
      id: string;
      home: number;
      endpoint: string;
      channel: string;
      publishes: boolean;
      paceMs: number;
    }
  | { kind: 'rt-sub'; id: string; home: number; channels: string[]; since: boolean }
  | { kind: 'sdk-sub'; id: string; home: number; channels: string[] }
  | { kind: 'runner'; id: string; home: number; via: 'rt' | 'task-runner' };

export type Step =
  /** Let the clients work: wait for `outcomes` more publication outcomes. */
  | { kind: 'traffic'; outcomes: number }
  /**
   * Inject, let `hold` publisher rounds pass, heal, wait until every node is ready. With
   * `surge`, the `/rt` publishers first keep that many publications each in flight, and the
   * fault hits while they are.
   */
  | { kind: 'fault'; fault: Fault; hold: number; surge?: number }
  /** `actor` stops reading while `flooder` floods `channel`, until its node closes it (4008). */
  | { kind: 'slow'; actor: string; channel: string; flooder: string }
  | { kind: 'runs'; actor: string; count: number }
  /** `actor` loses its connection (as a network failure would) and reconnects. */
  | { kind: 'drop'; actor: string };

export type ScheduleSize = 'short' | 'long';

export interface Schedule {
  seed: number;
  setup: string;
  size: ScheduleSize;
  /** Channels with history (chat:*): every acked publication on them is checked. */
  historyChannels: string[];
  actors: ActorSpec[];
  steps: Step[];
}

/** What the generator needs to know of a set-up. */
export type SetUpShape = Pick<SetUp, 'name' | 'nodes' | 'faults' | 'targets'>;

/** What a short schedule covers (by default every fault of the set-up, and a slow consumer). */
export interface ShortCover {
  faults?: readonly SetUpFault[];
  slow?: boolean;
}

/**
 * The schedule for `seed` on a set-up: which clients, and the sequence of traffic, faults
 * (one at a time, each healed before the next), slow consumers, dropped connections and
 * task runs. The same seed, set-up, size and cover always give the same schedule. A short
 * schedule injects each fault of `cover` once (targets drawn at random), a dropped connection
 * and, unless `cover.slow` is false, a slow consumer, in random order; a long one draws 6-12
 * episodes at random from everything the set-up supports.
 */
export function generateSchedule(
  seed: number,
  setup: SetUpShape,
  size: ScheduleSize,
  cover: ShortCover = {},
): Schedule {
  const rng = new Prng(seed);
  const chat = size === 'short' ? ['chat:j0', 'chat:j1'] : ['chat:j0', 'chat:j1', 'chat:j2'];
  const all = [...chat, 'broadcast'];
  const home = (k: number) => k % setup.nodes;
  const room = (channel: string) => channel.slice('chat:'.length);
  const actors: ActorSpec[] = [
    { kind: 'rt-sub', id: 'sub0', home: home(0), channels: all, since: true },
    { kind: 'rt-sub', id: 'sub1', home: home(1), channels: chat, since: true },
    { kind: 'rt-sub', id: 'sub2', home: home(2), channels: chat, since: false },
    { kind: 'sdk-sub', id: 'sdk0', home: home(1), channels: all },
    {
      kind: 'plain',
      id: 'chat0',
      home: home(0),
      endpoint: `/chat/${room(chat[0] as string)}`,
      channel: chat[0] as string,
      publishes: true,
      paceMs: rng.int(40, 120),
    },
    {
      kind: 'plain',
      id: 'chat1',
      home: home(1),
      endpoint: `/chat/${room(chat[0] as string)}`,
      channel: chat[0] as string,
      publishes: false,
      paceMs: 0,
    },
    {
      kind: 'plain',
      id: 'bc0',
      home: home(0),
      endpoint: '/broadcast',
      channel: 'broadcast',
      publishes: true,
      paceMs: rng.int(60, 150),
    },
    {
      kind: 'plain',
      id: 'bc1',
      home: home(1),
      endpoint: '/broadcast',
      channel: 'broadcast',
      publishes: false,
      paceMs: 0,
    },
    {
      kind: 'rt-pub',
      id: 'pub0',
      home: home(0),
      channels: all,
      burst: rng.int(8, 32),
      paceMs: rng.int(15, 40),
    },
    {
      kind: 'rt-pub',
      id: 'pub1',
      home: home(1),
      channels: chat,
      burst: rng.int(4, 16),
      paceMs: rng.int(15, 40),
    },
    { kind: 'http-pub', id: 'http0', home: home(2), channels: all, paceMs: rng.int(10, 40) },
    { kind: 'flooder', id: 'flood', home: home(0) },
    { kind: 'runner', id: 'run0', home: home(0), via: 'rt' },
    { kind: 'runner', id: 'run1', home: home(1), via: 'task-runner' },
  ];
  const runners = ['run0', 'run1'];
  const slowCandidates = ['sub0', 'sub1'];

  const fault = (kind: SetUpFault): Step => {
    const step: Step = {
      kind: 'fault',
      fault: { kind, target: rng.pick(setup.targets(kind)) },
      hold: rng.int(10, 40),
    };
    // Crashes under load: acks written before their batch is durable show up as losses.
    const crash = kind === 'kill' || kind === 'term' || kind === 'kill-redis';
    if (crash && (size === 'short' || rng.chance(0.7))) step.surge = rng.int(100, 300);
    return step;
  };
  const slow = (): Step => ({
    kind: 'slow',
    actor: rng.pick(slowCandidates),
    channel: rng.pick(chat),
    flooder: 'flood',
  });
  const drop = (): Step => ({
    kind: 'drop',
    actor: rng.pick(['sub0', 'sub1', 'sub2', 'pub0', 'chat0', 'bc1']),
  });

  let episodes: Step[];
  if (size === 'short') {
    const faults = (cover.faults ?? setup.faults).map(fault);
    episodes = rng.shuffle([...faults, drop(), ...(cover.slow === false ? [] : [slow()])]);
  } else {
    episodes = Array.from({ length: rng.int(6, 12) }, () => {
      const r = rng.next();
      if (r < 0.7) return fault(rng.pick(setup.faults));
      return r < 0.85 ? slow() : drop();
    });
  }
  const steps: Step[] = [{ kind: 'traffic', outcomes: rng.int(30, 60) }];
  for (const episode of episodes) {
    // Runs in progress when the fault hits: they must still end exactly once.
    if (rng.chance(0.6)) steps.push({ kind: 'runs', actor: rng.pick(runners), count: rng.int(1, 3) });
    steps.push(episode, { kind: 'traffic', outcomes: rng.int(20, 80) });
  }
  steps.push({ kind: 'runs', actor: rng.pick(runners), count: 1 }, { kind: 'traffic', outcomes: 30 });
  return { seed, setup: setup.name, size, historyChannels: chat, actors, steps };
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'traffic':
      return `traffic ${step.outcomes}`;
    case 'fault':
      return `${describeFault(step.fault)} (${step.surge ? `under a surge of ${step.surge}, ` : ''}hold ${step.hold})`;
    case 'slow':
      return `slow-consumer ${step.actor} on ${step.channel}`;
    case 'runs':
      return `runs ${step.count} by ${step.actor}`;
    case 'drop':
      return `drop ${step.actor}`;
  }
}

/** The schedule as a few lines of text (for failure reports). */
export function describeSchedule(s: Schedule): string {
  const actor = (a: ActorSpec): string => {
    switch (a.kind) {
      case 'rt-pub':
        return `${a.id}: /rt publish ${a.channels.join(',')} burst ${a.burst} every ${a.paceMs}ms, node${a.home}`;
      case 'http-pub':
        return `${a.id}: POST /api/publish ${a.channels.join(',')} every ${a.paceMs}ms, node${a.home}`;
      case 'flooder':
        return `${a.id}: /rt flood (slow-consumer steps), node${a.home}`;
      case 'plain':
        return `${a.id}: ${a.endpoint} ${a.publishes ? `sends every ${a.paceMs}ms` : 'listens'}, node${a.home}`;
      case 'rt-sub':
        return `${a.id}: /rt subscribe ${a.channels.join(',')} ${a.since ? 'with since' : 'without since'}, node${a.home}`;
      case 'sdk-sub':
        return `${a.id}: SDK subscribe ${a.channels.join(',')}, node${a.home}`;
      case 'runner':
        return `${a.id}: runs via ${a.via === 'rt' ? '/rt run' : '/task-runner'}, node${a.home}`;
    }
  };
  return [
    `seed ${s.seed}, set-up ${s.setup}, ${s.size}`,
    'actors:',
    ...s.actors.map((a) => `  ${actor(a)}`),
    `steps: ${s.steps.map(describeStep).join(' → ')}`,
  ].join('\n');
}
