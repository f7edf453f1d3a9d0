import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = `${ROOT}dist/cli/main.js`;

// A failed test must not leave servers behind.
const children = new Set<ChildProcess>();
/** Children that lead a process group of their own: the whole group is killed. */
const groupLeaders = new WeakSet<ChildProcess>();
process.on('exit', () => {
  for (const child of children) {
    if (groupLeaders.has(child) && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    } else child.kill('SIGKILL');
  }
});

export interface CliServer {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  port: number;
  /** Everything the process printed so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** Lead a process group of its own (a test can then signal the group, as supervisors do). */
  detached?: boolean;
  /** Working directory; default the repository root. */
  cwd?: string;
}

/** A child process of the CLI that said it is ready. */
export interface ReadyChild {
  child: ChildProcess;
  /** The match of the ready line. */
  ready: RegExpExecArray;
  /** Everything the process printed so far. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns `command` (killed when the test process exits) and resolves once its output matches
 * `ready`; rejects with the output if it exits first.
 */
export function spawnUntilReady(
  command: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  what: string,
  options: SpawnOptions = {},
): Promise<ReadyChild> {
  const [cmd, ...cmdArgs] = command;
  const child = spawn(cmd as string, cmdArgs, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a test can signal the group as a supervisor does.
    detached: options.detached ?? false,
  });
  children.add(child);
  if (options.detached) groupLeaders.add(child);
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
      const m = ready.exec(out);
      if (m) resolve({ child, ready: m, output: () => out, exited });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    exited.then(({ code }) => reject(new Error(`${what} exited with ${code} before it was ready:\n${out}`)));
  });
}

/**
 * Runs `wirehub serve` from the built CLI as a child process on port 0 and resolves once it
 * logs its address. `npm test` builds dist/ before vitest runs.
 */
export async function startCliServer(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  command?: string[],
  options: SpawnOptions = {},
): Promise<CliServer> {
  if (!command && !existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const started = await spawnUntilReady(
    command ?? [process.execPath, CLI, 'serve', '--port', '0', ...args],
    env,
    /wirehub listening on (https?:\/\/[^\s"]+:(\d+))/,
    'server',
    options,
  );
  const url = started.ready[1] as string;
  return {
    child: started.child,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    port: Number(started.ready[2]),
    output: started.output,
    exited: started.exited,
  };
}

/**
 * Runs the CLI to completion and returns its exit code and output. With `input`, that is
 * written to its stdin, which is then closed; otherwise stdin stays open (a terminal that
 * nobody types in).
 */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode([CLI, ...args], { env, ...(input === undefined ? {} : { input }), until: 'exit' });
}

/**
 * Runs `node <args>` from the repository root to completion (e.g. a bench script:
 * `['--import', 'tsx', 'bench/x.ts', …]`) and returns its exit code and output. `until: 'close'`
 * (the default) waits for its output streams too; `timeoutMs` turns a hang into a SIGKILL.
 */
export function runNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; until?: 'exit' | 'close' } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...options.env } });
    if (options.input !== undefined) child.stdin.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', reject);
    child.once(options.until ?? 'close', (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
