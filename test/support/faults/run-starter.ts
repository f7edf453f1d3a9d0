import type { RtServerFrame } from '../../../src/protocol/index.js';
import { RtClient } from '../rt-client.js';
import { WebSocket } from '../ws.js';
import { Actor } from './actor.js';
import type { Prng } from './prng.js';

const ANSWER_TIMEOUT_MS = 8_000;

/** A demo task run: short countdowns, and `fail` (a run that ends FAILED is still one end). */
function demoRun(rng: Prng): { task: string; inputs: Record<string, unknown> } {
  if (rng.chance(0.2)) return { task: 'fail', inputs: { message: 'fails on purpose' } };
  return { task: 'countdown', inputs: { n: rng.int(2, 4), delayMs: rng.int(30, 150) } };
}

/**
 * Starts demo task runs on request, over `/rt` (`run` command, `run` pushes) or `/task-runner`
 * (the seed's JSON, updates with `seq`), and records each run it was told about and every
 * update it saw. A connection lost is simply opened again for the next runs: the final check
 * reads each run's record.
 */
export class RunStarter extends Actor<{ via: 'rt' | 'task-runner' }> {
  private rt: RtClient | undefined;
  private plain: WebSocket | undefined;
  /** Requests of `/task-runner` waiting for their answer, in order. */
  private plainAnswers: {
    resolve: (frame: Record<string, unknown>) => void;
    reject: (err: Error) => void;
  }[] = [];

  /** Nothing to do but on request (`startRuns`). */
  protected async run(): Promise<void> {}

  protected override interrupt(): void {
    this.rt?.ws.terminate();
    this.plain?.terminate();
  }

  /** Starts `count` runs one after another; refusals and lost answers are skipped. */
  async startRuns(count: number): Promise<void> {
    for (let k = 0; k < count && !this.stopped; k += 1) {
      const { task, inputs } = demoRun(this.rng);
      try {
        if (this.options.via === 'rt') await this.startRt(task, inputs);
        else await this.startPlain(task, inputs);
      } catch {
        // No answer (the node went away): the run may exist; nobody knows its id.
      }
    }
  }

  private async startRt(task: string, inputs: Record<string, unknown>): Promise<void> {
    const client = await this.rtClient();
    const reply = await client.request(
      'run',
      { project: 'demo', domain: 'development', task, version: 'v1', inputs },
      ANSWER_TIMEOUT_MS,
    );
    if (reply.op !== 'reply') return;
    const run = (reply.result as { run: string }).run;
    this.ctx.history.add({ type: 'run-started', actor: this.id, run, via: 'rt' });
  }

  private async rtClient(): Promise<RtClient> {
    if (this.rt && this.rt.ws.readyState === WebSocket.OPEN) return this.rt;
    const client = await RtClient.connect(`${this.nextEntry().wsUrl}/rt`);
    this.connected();
    this.rt = client;
    client.ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as RtServerFrame;
      if (frame.op === 'run')
        this.ctx.history.add({ type: 'run-update', actor: this.id, run: frame.run, status: frame.status });
    });
    return client;
  }

  private async startPlain(task: string, inputs: Record<string, unknown>): Promise<void> {
    const ws = await this.plainClient();
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), ANSWER_TIMEOUT_MS);
      this.plainAnswers.push({
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
    ws.send(JSON.stringify({ project: 'demo', domain: 'development', task, version: 'v1', inputs }));
    const frame = await answer;
    if (frame.status === 'started' && typeof frame.run_id === 'string')
      this.ctx.history.add({ type: 'run-started', actor: this.id, run: frame.run_id, via: 'task-runner' });
  }

  private plainClient(): Promise<WebSocket> {
    if (this.plain && this.plain.readyState === WebSocket.OPEN) return Promise.resolve(this.plain);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${this.nextEntry().wsUrl}/task-runner`);
      ws.once('error', reject);
      ws.once('open', () => {
        this.connected();
        this.plain = ws;
        this.plainAnswers = [];
        ws.on('message', (raw) => {
          const frame = JSON.parse(String(raw)) as Record<string, unknown>;
          if (typeof frame.seq === 'number' && typeof frame.run_id === 'string') {
            this.ctx.history.add({
              type: 'run-update',
              actor: this.id,
              run: frame.run_id,
              seq: frame.seq,
              status: String(frame.status),
            });
          } else {
            this.plainAnswers.shift()?.resolve(frame);
          }
        });
        ws.once('close', () => {
          for (const waiting of this.plainAnswers.splice(0)) waiting.reject(new Error('closed'));
        });
        resolve(ws);
      });
    });
  }
}
