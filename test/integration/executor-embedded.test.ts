import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedExecutor } from '../../src/tasks/executors/embedded/embedded-executor.js';
import { TaskRegistry } from '../../src/tasks/registry.js';
import {
  CONFORMANCE_TASKS,
  runExecutorConformance,
  UpdateRecorder,
} from '../support/executor-conformance.js';

const options = { poolSize: 2, queueSize: 2, retryDelayMs: 20, abortGraceMs: 100 };

runExecutorConformance('embedded (worker threads)', async () => ({
  executor: new EmbeddedExecutor(options),
  concurrency: options.poolSize,
  queueSize: options.queueSize,
}));

describe('embedded executor: worker threads', () => {
  let executor: EmbeddedExecutor | undefined;
  afterEach(async () => {
    await executor?.close();
  });

  it('terminates the thread of a task that ignores its abort, after the grace', async () => {
    const registry = new TaskRegistry();
    await registry.loadModule(CONFORMANCE_TASKS);
    const spin = registry.resolve({ project: 'test', domain: 'fixtures', name: 'spin', version: 'v1' });
    const echo = registry.resolve({ project: 'test', domain: 'fixtures', name: 'echo', version: 'v1' });
    if (!spin || !echo) throw new Error('fixtures missing');
    executor = new EmbeddedExecutor({ ...options, poolSize: 1 });
    const rec = new UpdateRecorder();
    await executor.start(rec.listener);
    await executor.submit({ runId: 'r-spin', task: spin, inputs: { ms: 60_000 }, attempt: 1 });
    const init = await rec.when('r-spin', (u) => u.status === 'INITIALIZING');
    const thread = Number(/worker thread (\d+)/.exec(init.message)?.[1]);
    await rec.when('r-spin', (u) => u.status === 'RUNNING');
    expect(executor.threadIds()).toContain(thread);
    await executor.cancel('r-spin');
    expect((await rec.ended('r-spin')).status).toBe('ABORTED');
    expect(executor.threadIds()).not.toContain(thread);
    // The pool replaces the thread: the next task runs on another one, off the main thread.
    await executor.submit({ runId: 'r-after', task: echo, inputs: { value: 1, steps: 0 }, attempt: 1 });
    const end = await rec.ended('r-after');
    expect(end.status).toBe('SUCCEEDED');
    expect((end.outputs as { thread: number }).thread).not.toBe(thread);
    expect((end.outputs as { thread: number }).thread).toBeGreaterThan(0);
  });
});
