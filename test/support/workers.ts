import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServerOptions } from '../../src/server/options.js';
import { CLI, ROOT } from './cli.js';
import { RedisProcess } from './redis.js';
import { type RunningServer, startServer } from './server.js';

/** The task modules the executor conformance suite and these tests run. */
export const FIXTURE_TASKS = fileURLToPath(new URL('../fixtures/tasks', import.meta.url));

// A failed test must not leave workers behind.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

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
export function startCliWorker(
  redisUrl: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<CliWorker> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const child = spawn(
    process.execPath,
    [CLI, 'worker', '--redis', redisUrl, '--tasks', FIXTURE_TASKS, '--concurrency', '1', ...args],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /wirehub worker (\S+) ready/.exec(out);
      if (m?.[1]) {
        resolve({
          child,
          name: m[1],
          output: () => out,
          exited,
          kill: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    exited.then(({ code }) => reject(new Error(`worker exited with ${code} before it was ready:\n${out}`)));
  });
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
