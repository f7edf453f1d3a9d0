import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServerOptions } from '../../src/server/options.js';
import { CLI, spawnUntilReady } from './cli.js';
import { RedisProcess } from './redis.js';
import { type RunningServer, startServer } from './server.js';

/** The task modules the executor conformance suite and these tests run. */
export const FIXTURE_TASKS = fileURLToPath(new URL('../fixtures/tasks', import.meta.url));

export interface CliWorker {
  child: ChildProcess;
  /** The name it shows in run updates (`picked up by worker <name>`). */
  name: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
}

/**
 * Runs `wirehub worker` (the built CLI) as a child process on `redisUrl` with the fixture
 * tasks, and resolves once it says it is ready. `npm test` builds dist/ before vitest runs.
 */
export async function startCliWorker(
  redisUrl: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<CliWorker> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const { child, ready, output, exited } = await spawnUntilReady(
    [
      process.execPath,
      CLI,
      'worker',
      '--redis',
      redisUrl,
      '--tasks',
      FIXTURE_TASKS,
      '--concurrency',
      '1',
      ...args,
    ],
    env,
    /wirehub worker (\S+) ready/,
    'worker',
  );
  return {
    child,
    name: ready[1] as string,
    output,
    exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Two nodes on a private Redis that run no jobs themselves, and one `wirehub worker` that runs them all. */
export interface RunCluster {
  redis: RedisProcess;
  A: RunningServer;
  B: RunningServer;
  worker: CliWorker;
  stop(): Promise<void>;
}

/**
 * Starts a {@link RunCluster}: its own `redis-server`, nodes A and B (`--task-workers 0`, the
 * fixture tasks, plus `options`) and a worker process with `workerArgs`.
 */
export async function startRunCluster(
  options: ServerOptions = {},
  workerArgs: string[] = ['--concurrency', '2'],
): Promise<RunCluster> {
  const redis = await RedisProcess.start();
  const nodeOptions = { ...options, redis: redis.url, tasks: { modules: [FIXTURE_TASKS], poolSize: 0 } };
  const A = await startServer(nodeOptions);
  const B = await startServer(nodeOptions);
  const worker = await startCliWorker(redis.url, workerArgs);
  return {
    redis,
    A,
    B,
    worker,
    stop: async () => {
      await worker.kill();
      await A.close();
      await B.close();
      await redis.stop();
    },
  };
}
