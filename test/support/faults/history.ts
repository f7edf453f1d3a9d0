/** A position in a channel's stream. */
export interface Position {
  epoch: string;
  offset: number;
}

/** How a publication was sent. */
export type Via = 'rt' | 'http' | 'plain';

/**
 * Everything a schedule did and saw, as the checker reads it. `actor` names a client of the
 * schedule; `conn` numbers its connections (1, 2, … across reconnects). `key` identifies a
 * payload (see `payloadKey`).
 */
export type HistoryEventBody =
  | { type: 'fault'; phase: 'inject' | 'heal'; fault: string }
  | { type: 'send'; actor: string; conn: number; op: string; channel: string; key: string; via: Via }
  /** An /rt reply or an HTTP 200: the publication is accepted, at `position` on channels with history. */
  | {
      type: 'ack';
      actor: string;
      conn: number;
      op: string;
      channel: string;
      key: string;
      position?: Position;
    }
  /** An error reply or an HTTP error status. */
  | { type: 'fail'; actor: string; op: string; code: string }
  /** No answer (the connection dropped, a timeout): it may or may not have happened. */
  | { type: 'info'; actor: string; op: string; reason: string }
  /** A subscribe reply (`/rt`), or a recovery report (SDK); replayed messages follow it. */
  | {
      type: 'subscribed';
      actor: string;
      conn: number;
      channel: string;
      since?: Position;
      recovered?: boolean;
      /** Where the stream stands after the reply (undefined: the SDK's first subscribe). */
      position?: Position;
    }
  | {
      type: 'message';
      actor: string;
      conn: number;
      channel: string;
      position?: Position;
      key: string;
      replay: boolean;
    }
  /** A text a plain endpoint (`/chat/{room}`, `/broadcast`) delivered. */
  | { type: 'plain'; actor: string; conn: number; endpoint: string; key: string }
  | { type: 'closed'; actor: string; conn: number; code: number }
  | { type: 'run-started'; actor: string; run: string; via: 'rt' | 'task-runner' }
  /** An update of a run a client saw (`seq` is absent on `/rt` run pushes). */
  | { type: 'run-update'; actor: string; run: string; seq?: number; status: string }
  /** At the end, an observer did not catch up with the head of a channel in time. */
  | { type: 'stuck'; actor: string; channel: string; position?: Position; head: Position }
  /** The final read of a channel's history (every page, oldest first). */
  | {
      type: 'history';
      channel: string;
      epoch: string;
      offset: number;
      publications: { offset: number; key: string }[];
    }
  /** The final read of a run's record and stored updates (`found: false`: 404). */
  | {
      type: 'run-record';
      run: string;
      found: boolean;
      status?: string;
      updates: { seq: number; status: string }[];
    };

export type HistoryEvent = HistoryEventBody & {
  /** Index in the history. */
  i: number;
  /** Milliseconds since the schedule started. */
  at: number;
};

type Waiter = {
  check: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
};

/**
 * The history of one schedule: an append-only list of events, plus a count of publication
 * outcomes (acks, failures, connection attempts that failed) that the schedule's steps wait
 * on, so traffic between faults is measured in operations, not in time.
 */
export class History {
  readonly events: HistoryEvent[] = [];
  /** Publication attempts that ended one way or another. */
  outcomes = 0;
  /** Rounds of the publishers' loops (a burst, a request, a failed connect): time under a fault. */
  rounds = 0;
  /** Publications sent (their outcome may be pending). */
  sent = 0;
  /** Outcomes of attempts that were never sent (no connection). */
  private unsent = 0;
  readonly startedAt = Date.now();
  private waiters: Waiter[] = [];

  add(body: HistoryEventBody): HistoryEvent {
    const event = { ...body, i: this.events.length, at: Date.now() - this.startedAt } as HistoryEvent;
    this.events.push(event);
    if (body.type === 'ack' || body.type === 'fail' || body.type === 'info') this.outcome();
    else {
      if (body.type === 'send' && body.via !== 'plain') this.sent += 1;
      this.wake();
    }
    return event;
  }

  /** Counts an attempt that could not even be sent (no connection). */
  unsentOutcome(): void {
    this.unsent += 1;
    this.outcome();
  }

  private outcome(): void {
    this.outcomes += 1;
    this.wake();
  }

  /** Resolves once `check()` holds, re-checked on every event; rejects after `timeoutMs`. */
  until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves after `n` more publication outcomes. */
  afterOutcomes(n: number, timeoutMs?: number): Promise<void> {
    const target = this.outcomes + n;
    return this.until(() => this.outcomes >= target, `${n} more publication outcomes`, timeoutMs);
  }

  /** One more round of a publisher's loop. */
  round(): void {
    this.rounds += 1;
    this.wake();
  }

  /** Resolves after `n` more publisher rounds. */
  afterRounds(n: number, timeoutMs?: number): Promise<void> {
    const target = this.rounds + n;
    return this.until(() => this.rounds >= target, `${n} more publisher rounds`, timeoutMs);
  }

  /** Publications sent and not answered yet. */
  get inFlight(): number {
    return this.sent - (this.outcomes - this.unsent);
  }

  count(type: HistoryEvent['type']): number {
    let n = 0;
    for (const e of this.events) if (e.type === type) n += 1;
    return n;
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }
}

/** The position of a reply, message or publication, when it has one (channels with history). */
export function positionOf(x: {
  epoch?: string | undefined;
  offset?: number | undefined;
}): Position | undefined {
  return x.epoch !== undefined && x.offset !== undefined ? { epoch: x.epoch, offset: x.offset } : undefined;
}

/** The payload the schedule's publishers send: publisher, its connection, and a sequence number. */
export interface Payload {
  p: string;
  c: number;
  s: number;
  /** Filler that makes a flood publication big (slow-consumer faults). */
  pad?: string;
}

/** A plain client's text: `<publisher>/<connection>/<seq>`. */
export function plainText(p: string, c: number, s: number): string {
  return `${p}/${c}/${s}`;
}

const PLAIN = /^([\w.-]+)\/(\d+)\/(\d+)$/;

/** Identifies a payload: `p/c/s` for the schedule's own (and `+<pad length>`), else its JSON. */
export function payloadKey(data: unknown): string {
  if (typeof data === 'string' && PLAIN.test(data)) return data;
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    const d = data as Partial<Payload>;
    if (typeof d.p === 'string' && typeof d.c === 'number' && typeof d.s === 'number') {
      return `${d.p}/${d.c}/${d.s}${typeof d.pad === 'string' ? `+${d.pad.length}` : ''}`;
    }
  }
  return JSON.stringify(data);
}

/** The text a plain endpoint delivered, as a payload key (JSON values arrive as JSON text). */
export function plainKey(text: string): string {
  if (PLAIN.test(text)) return text;
  try {
    return payloadKey(JSON.parse(text));
  } catch {
    return JSON.stringify(text);
  }
}

/** Publisher, connection and sequence number of a payload key, when it is one of the schedule's. */
export function parseKey(key: string): { p: string; c: number; s: number } | undefined {
  const m = /^([\w.-]+)\/(\d+)\/(\d+)(?:\+\d+)?$/.exec(key);
  if (!m) return undefined;
  return { p: m[1] as string, c: Number(m[2]), s: Number(m[3]) };
}
