import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WirehubError } from '../../src/protocol/index.js';
import type { Executor, ExecutorUpdate } from '../../src/tasks/executors/executor.js';
import { type RegisteredTask, type TaskRef, TaskRegistry } from '../../src/tasks/registry.js';
import { canTransition, isTerminal } from '../../src/tasks/runs/state-machine.js';
import type { RunStatus } from '../../src/tasks/runs/types.js';

/** The task module every executor under test must be able to run. */
export const CONFORMANCE_TASKS = fileURLToPath(new URL('../fixtures/tasks/conformance.mjs', import.meta.url));

/** What the suite needs from an executor under test. */
export interface ExecutorUnderTest {
  executor: Executor;
  /** Threads / workers that run at once. */
  concurrency: number;
  /** Runs that may wait beyond `concurrency` before `queue_full`. */
  queueSize: number;
  /** Anything else to stop after each test (servers, connections). */
  teardown?(): Promise<void>;
  /**
   * Where the executor's tasks come from, when not this server's registry (a remote engine's
   * catalog: the Flyte stand-in's copies of the fixture tasks).
   */
  resolveTask?(ref: TaskRef): Promise<RegisteredTask | undefined>;
}

/** The cases of the suite that an executor may declare not applicable (with why). */
export type ConformanceCase =
  | 'restart-attempt'
  | 'concurrency'
  | 'abort-queued'
  | 'drain-waiting'
  | 'drain-interrupt';

export interface ConformanceOptions {
  /**
   * The executor relays the task's own `report()` messages and progress. A remote engine
   * (Flyte) reports its phases only. Default true.
   */
  reportsProgress?: boolean;
  /**
   * Cases that do not apply to this executor, each with the reason; they are not run. Only
   * an engine that schedules runs itself (a remote cluster) should need this.
   */
  notApplicable?: Partial<Record<ConformanceCase, string>>;
}

/**
 * Collects every update per run, checks each against the state machine as it arrives, and
 * lets a test wait (on events, not sleeps) for a run's terminal update.
 */
export class UpdateRecorder {
  readonly updates = new Map<string, ExecutorUpdate[]>();
  readonly violations: string[] = [];
  private readonly status = new Map<string, RunStatus>();
  private readonly waiters = new Map<string, ((u: ExecutorUpdate) => void)[]>();
  private readonly watchers: ((runId: string, u: ExecutorUpdate) => void)[] = [];

  readonly listener = (runId: string, update: ExecutorUpdate): undefined => {
    const list = this.updates.get(runId) ?? [];
    list.push(update);
    this.updates.set(runId, list);
    const from = this.status.get(runId) ?? 'QUEUED';
    if (!canTransition(from, update.status)) this.violations.push(`${runId}: ${from} -> ${update.status}`);
    this.status.set(runId, update.status);
    for (const w of [...this.watchers]) w(runId, update);
    if (isTerminal(update.status)) {
      for (const resolve of this.waiters.get(runId) ?? []) resolve(update);
      this.waiters.delete(runId);
    }
  };

  of(runId: string): ExecutorUpdate[] {
    return this.updates.get(runId) ?? [];
  }

  statuses(runId: string): RunStatus[] {
    return this.of(runId).map((u) => u.status);
  }

  /** Resolves with the run's terminal update. */
  ended(runId: string, timeoutMs = 15_000): Promise<ExecutorUpdate> {
    const done = this.of(runId).find((u) => isTerminal(u.status));
    if (done) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`run ${runId} did not end within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const list = this.waiters.get(runId) ?? [];
      list.push((u) => {
        clearTimeout(timer);
        resolve(u);
      });
      this.waiters.set(runId, list);
    });
  }

  /** Resolves once `condition()` holds, checked now and after every update. */
  untilAll(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const watcher = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.watchers.splice(this.watchers.indexOf(watcher), 1);
        resolve();
      };
      const timer = setTimeout(() => {
        this.watchers.splice(this.watchers.indexOf(watcher), 1);
        reject(new Error(`condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.watchers.push(watcher);
    });
  }

  /** Resolves when an update of `runId` satisfies `predicate` (already received ones count). */
  when(
    runId: string,
    predicate: (u: ExecutorUpdate) => boolean,
    timeoutMs = 15_000,
  ): Promise<ExecutorUpdate> {
    const seen = this.of(runId).find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const watcher = (id: string, u: ExecutorUpdate) => {
        if (id !== runId || !predicate(u)) return;
        clearTimeout(timer);
        this.watchers.splice(this.watchers.indexOf(watcher), 1);
        resolve(u);
      };
      const timer = setTimeout(() => {
        this.watchers.splice(this.watchers.indexOf(watcher), 1);
        reject(new Error(`run ${runId}: no matching update within ${timeoutMs} ms`));
      }, timeoutMs);
      this.watchers.push(watcher);
    });
  }
}

/**
 * The suite every executor passes: submit and the update stream, outputs and errors,
 * retries, timeouts, cancel (queued, cooperative, CPU-bound), concurrency, the bounded
 * queue, re-queued attempts and close. `make` builds a fresh executor (not started) for
 * each test; the executor must be able to load `CONFORMANCE_TASKS`.
 *
 * @example
 * ```ts
 * runExecutorConformance('embedded', async () => ({
 *   executor: new EmbeddedExecutor({ poolSize: 2, queueSize: 2, retryDelayMs: 20, abortGraceMs: 100 }),
 *   concurrency: 2,
 *   queueSize: 2,
 * }));
 * ```
 */
export function runExecutorConformance(
  name: string,
  make: () => Promise<ExecutorUnderTest>,
  options: ConformanceOptions = {},
): void {
  const reportsProgress = options.reportsProgress ?? true;
  /** `it`, or nothing for a case the executor declared not applicable. */
  const itCase = (id: ConformanceCase, title: string, fn: () => Promise<void>) => {
    if (options.notApplicable?.[id] === undefined) it(title, fn);
  };
  describe(`executor conformance: ${name}`, () => {
    const registry = new TaskRegistry();
    let subject: ExecutorUnderTest;
    let executor: Executor;
    let rec: UpdateRecorder;
    let seq = 0;

    const task = async (taskName: string) => {
      const ref = { project: 'test', domain: 'fixtures', name: taskName, version: 'v1' };
      const t = subject.resolveTask ? await subject.resolveTask(ref) : registry.resolve(ref);
      if (!t) throw new Error(`fixture task ${taskName} is missing`);
      return t;
    };
    const submit = async (taskName: string, inputs: unknown, attempt = 1): Promise<string> => {
      seq += 1;
      const runId = `r-conf-${process.pid}-${seq}`;
      const t = await task(taskName);
      await executor.submit({ runId, task: t, inputs: t.definition.inputs.parse(inputs), attempt });
      return runId;
    };

    beforeEach(async () => {
      if (registry.size === 0) await registry.loadModule(CONFORMANCE_TASKS);
      subject = await make();
      executor = subject.executor;
      rec = new UpdateRecorder();
      await executor.start(rec.listener);
    });

    afterEach(async () => {
      await executor.close();
      await subject.teardown?.();
      expect(rec.violations).toEqual([]);
    });

    it('runs a task: INITIALIZING, RUNNING, its reports with progress, then SUCCEEDED with outputs', async () => {
      const id = await submit('echo', { value: { hello: 'world' }, steps: 2 });
      const end = await rec.ended(id);
      expect(end.status).toBe('SUCCEEDED');
      expect(end.outputs).toMatchObject({ value: { hello: 'world' }, attempt: 1 });
      const updates = rec.of(id);
      expect(updates[0]).toMatchObject({ status: 'INITIALIZING', attempt: 1 });
      const running = updates.filter((u) => u.status === 'RUNNING').map((u) => [u.message, u.progress]);
      if (reportsProgress) {
        expect(running).toEqual([
          [expect.any(String), undefined],
          ['step 1 of 2', 50],
          ['step 2 of 2', 100],
        ]);
      } else expect(running).toEqual([[expect.any(String), undefined]]);
      expect(updates.filter((u) => isTerminal(u.status))).toHaveLength(1);
      expect(executor.active).toBe(0);
    });

    it("fails with a USER error carrying the task's message", async () => {
      const id = await submit('boom', { message: 'it broke' });
      const end = await rec.ended(id);
      expect(end.status).toBe('FAILED');
      expect(end.error).toEqual({ kind: 'USER', message: 'it broke' });
    });

    it('fails with a USER error when the outputs do not match the outputs schema', async () => {
      const end = await rec.ended(await submit('bad-outputs', {}));
      expect(end.status).toBe('FAILED');
      expect(end.error?.kind).toBe('USER');
      expect(end.error?.message).toMatch(/outputs schema/);
    });

    it('fails with a SYSTEM error when the worker dies under the task', async () => {
      const end = await rec.ended(await submit('crash', {}));
      expect(end.status).toBe('FAILED');
      expect(end.error?.kind).toBe('SYSTEM');
    });

    it('retries a failed attempt with backoff and succeeds on a later one', async () => {
      const id = await submit('flaky', { succeedOn: 3 });
      const end = await rec.ended(id);
      expect(end.status).toBe('SUCCEEDED');
      expect(end.outputs).toEqual({ attempt: 3 });
      const requeues = rec.of(id).filter((u) => u.status === 'QUEUED');
      expect(requeues.map((u) => u.attempt)).toEqual([2, 3]);
      expect(requeues[0]?.message).toMatch(/attempt 1 of 3 failed \(USER: flaky failure on attempt 1\)/);
      expect(
        rec
          .of(id)
          .filter((u) => u.status === 'INITIALIZING')
          .map((u) => u.attempt),
      ).toEqual([1, 2, 3]);
    });

    it('fails once the retries are used up', async () => {
      const id = await submit('flaky', { succeedOn: 4 });
      const end = await rec.ended(id);
      expect(end.status).toBe('FAILED');
      expect(end.error).toEqual({ kind: 'USER', message: 'flaky failure on attempt 3' });
      expect(rec.statuses(id).filter((s) => s === 'INITIALIZING')).toHaveLength(3);
    });

    itCase(
      'restart-attempt',
      'starts at the attempt it is given (a run re-queued after a restart)',
      async () => {
        const id = await submit('flaky', { succeedOn: 3 }, 3);
        const end = await rec.ended(id);
        expect(end.status).toBe('SUCCEEDED');
        expect(rec.of(id)[0]).toMatchObject({ status: 'INITIALIZING', attempt: 3 });
        expect(rec.statuses(id)).not.toContain('QUEUED');
      },
    );

    it('ends TIMED_OUT when an attempt runs past the timeout', async () => {
      const id = await submit('slow', { ms: 60_000 });
      const end = await rec.ended(id);
      expect(end.status).toBe('TIMED_OUT');
      expect(end.error?.message).toMatch(/timed out after 300 ms/);
    });

    it('aborts a running task that honours its signal', async () => {
      const id = await submit('sleep', { ms: 60_000 });
      await rec.when(id, (u) => u.message === 'sleeping' || (!reportsProgress && u.status === 'RUNNING'));
      expect(await executor.cancel(id)).toBe(true);
      const end = await rec.ended(id);
      expect(end.status).toBe('ABORTED');
      expect(await executor.cancel(id)).toBe(false);
    });

    it('aborts a CPU-bound task that ignores its signal, and frees its slot', async () => {
      const id = await submit('spin', { ms: 60_000 });
      await rec.when(id, (u) => u.status === 'RUNNING');
      expect(await executor.cancel(id)).toBe(true);
      expect((await rec.ended(id)).status).toBe('ABORTED');
      expect(executor.active).toBe(0);
      // Every slot is usable again: as many runs as the executor runs at once all succeed.
      const ids = await Promise.all(
        Array.from({ length: subject.concurrency }, (_, i) => submit('echo', { value: i, steps: 0 })),
      );
      for (const runId of ids) expect((await rec.ended(runId)).status).toBe('SUCCEEDED');
    });

    itCase('abort-queued', 'aborts a queued run without ever starting it', async () => {
      const blockers = await Promise.all(
        Array.from({ length: subject.concurrency }, () => submit('sleep', { ms: 60_000 })),
      );
      for (const b of blockers) await rec.when(b, (u) => u.message === 'sleeping');
      const queued = await submit('echo', { value: 1 });
      expect(await executor.cancel(queued)).toBe(true);
      const end = await rec.ended(queued);
      expect(end.status).toBe('ABORTED');
      expect(rec.statuses(queued)).toEqual(['ABORTED']);
      for (const b of blockers) await executor.cancel(b);
      for (const b of blockers) expect((await rec.ended(b)).status).toBe('ABORTED');
    });

    it('answers false when cancelling a run it does not know', async () => {
      expect(await executor.cancel('r-never-submitted')).toBe(false);
    });

    itCase(
      'concurrency',
      'runs at most `concurrency` attempts at once; queued runs start as slots free up',
      async () => {
        const total = subject.concurrency + 2;
        const ids = await Promise.all(Array.from({ length: total }, () => submit('sleep', { ms: 60_000 })));
        const startedRuns = () => ids.filter((id) => rec.statuses(id).includes('INITIALIZING'));
        await rec.untilAll(() => startedRuns().length >= subject.concurrency);
        const first = startedRuns();
        expect(first).toHaveLength(subject.concurrency);
        expect(executor.active).toBe(total);
        for (const id of first) await executor.cancel(id);
        await rec.untilAll(() => startedRuns().length === total);
        for (const id of ids) if (!first.includes(id)) await executor.cancel(id);
        for (const id of ids) expect((await rec.ended(id)).status).toBe('ABORTED');
        expect(executor.active).toBe(0);
      },
    );

    it('refuses a run with queue_full when every slot and queue place is taken, emitting nothing for it', async () => {
      const capacity = subject.concurrency + subject.queueSize;
      const ids = await Promise.all(Array.from({ length: capacity }, () => submit('sleep', { ms: 60_000 })));
      const refused = submit('echo', { value: 'late' });
      await expect(refused).rejects.toBeInstanceOf(WirehubError);
      await expect(refused).rejects.toMatchObject({ code: 'queue_full' });
      expect(rec.of(`r-conf-${process.pid}-${seq}`)).toEqual([]);
      expect(executor.active).toBe(capacity);
      for (const id of ids) await executor.cancel(id);
      for (const id of ids) expect((await rec.ended(id)).status).toBe('ABORTED');
      // Room again.
      expect((await rec.ended(await submit('echo', { value: 'again', steps: 0 }))).status).toBe('SUCCEEDED');
    });

    itCase(
      'drain-waiting',
      'drains: running attempts end normally, waiting runs get no update, then nothing is taken',
      async () => {
        const running = await Promise.all(
          // Long enough that none ends before drain() starts (then the waiting run would take its
          // slot and rightly start), short enough to end well inside the drain's timeout.
          Array.from({ length: subject.concurrency }, () => submit('sleep', { ms: 1500 })),
        );
        for (const id of running) await rec.when(id, (u) => u.message === 'sleeping');
        const waiting = await submit('echo', { value: 'waiting', steps: 0 });
        await executor.drain(30_000);
        for (const id of running) expect((await rec.ended(id)).status).toBe('SUCCEEDED');
        // It never started here: no update at all (it stays QUEUED for the next start or another worker).
        expect(rec.of(waiting)).toEqual([]);
        await expect(submit('echo', { value: 'late' })).rejects.toBeInstanceOf(WirehubError);
      },
    );

    itCase(
      'drain-interrupt',
      'drains: attempts still running after the timeout are interrupted, re-queued when attempts remain, else FAILED',
      async () => {
        const retriable = await submit('patient', { ms: 60_000 });
        const last = await submit('sleep', { ms: 60_000 });
        await rec.when(retriable, (u) => u.message === 'first attempt: sleeping');
        await rec.when(last, (u) => u.message === 'sleeping');
        await executor.drain(100);
        const requeued = rec.of(retriable).at(-1);
        expect(requeued).toMatchObject({ status: 'QUEUED', attempt: 2 });
        expect(requeued?.message).toMatch(/^attempt 1 of 2 failed \(SYSTEM: interrupted: .*shut down\)/);
        expect(await rec.ended(last)).toMatchObject({ status: 'FAILED', error: { kind: 'SYSTEM' } });
        expect((await rec.ended(last)).error?.message).toMatch(/^interrupted: .*shut down/);
      },
    );

    it('emits nothing after close', async () => {
      const id = await submit('sleep', { ms: 60_000 });
      await rec.when(id, (u) => u.message === 'sleeping' || (!reportsProgress && u.status === 'RUNNING'));
      const before = rec.of(id).length;
      await executor.close();
      expect(rec.of(id)).toHaveLength(before);
      await expect(submit('echo', { value: 1 })).rejects.toBeInstanceOf(WirehubError);
    });
  });
}
