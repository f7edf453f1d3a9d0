import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliServer, startCliServer } from '../support/cli.js';
import { TestClient } from '../support/client.js';
import { RedisProcess, redisAvailable } from '../support/redis.js';
import { http } from '../support/security.js';
import { startServer, tempDir } from '../support/server.js';
import { startCliWorker } from '../support/workers.js';

const TRIGGER = fileURLToPath(new URL('../fixtures/tasks-trigger', import.meta.url));

/** Resolves once the child's output matches `pattern` (checked on every chunk it prints). */
function printed(child: ChildProcess, output: () => string, pattern: RegExp): Promise<void> {
  if (pattern.test(output())) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!pattern.test(output())) return;
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      resolve();
    };
    // Listeners run after the support's own, which appends the chunk to output().
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', () => reject(new Error(`exited before printing ${pattern}:\n${output()}`)));
  });
}

const listeners = () => ({
  exception: process.listenerCount('uncaughtException'),
  rejection: process.listenerCount('unhandledRejection'),
});

describe('createServer (the library)', () => {
  it('installs no process-wide handler unless asked', async () => {
    const before = listeners();
    const srv = await startServer({ tasks: false });
    expect(listeners()).toEqual(before);
    const metrics = await http(`${srv.url}/metrics`);
    expect(metrics.body).not.toContain('wirehub_uncaught_errors_total');
    await srv.close();
  });

  it('with handleUncaughtErrors, installs them once listening and removes them on close', async () => {
    const before = listeners();
    const srv = await startServer({ tasks: false, handleUncaughtErrors: true });
    expect(listeners()).toEqual({ exception: before.exception + 1, rejection: before.rejection + 1 });
    const metrics = await http(`${srv.url}/metrics`);
    expect(metrics.body).toContain('wirehub_uncaught_errors_total{kind="exception"} 0');
    await srv.close();
    expect(listeners()).toEqual(before);
  });
});

describe('wirehub serve', () => {
  let serve: CliServer | undefined;
  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await serve?.exited;
  });

  it('logs an uncaught exception and an unhandled rejection, counts them, and keeps serving', async () => {
    serve = await startCliServer(['--data-dir', tempDir(), '--tasks', TRIGGER, '--task-workers', '1']);
    const echo = await TestClient.connect(`${serve.wsUrl}/echo`);
    serve.child.kill('SIGUSR2');
    await printed(serve.child, serve.output, /uncaught exception \(a bug\)/);
    await printed(serve.child, serve.output, /unhandled promise rejection \(a bug\)/);
    expect(serve.output()).toContain('uncaught on purpose (test)');
    expect(serve.output()).toContain('rejected on purpose (test)');
    // Still serving: the open connection, new requests, and the count in /metrics.
    await echo.send('still there?');
    expect(await echo.next()).toBe('Echo: still there?');
    expect((await http(`${serve.url}/healthz`)).status).toBe(200);
    const metrics = (await http(`${serve.url}/metrics`)).body;
    expect(metrics).toContain('wirehub_uncaught_errors_total{kind="exception"} 1');
    expect(metrics).toContain('wirehub_uncaught_errors_total{kind="rejection"} 1');
    echo.ws.terminate();
    // A drain still ends the process cleanly.
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toEqual({ code: 0, signal: null });
  });

  it('still exits 1 on an error thrown while it starts: a half-started server must not serve', async () => {
    const started = startCliServer(['--data-dir', tempDir(), '--tasks', TRIGGER], {
      WIREHUB_TEST_THROW_AT_START: '1',
    });
    await expect(started).rejects.toThrow(/exited with 1 before it was ready[\s\S]*thrown while starting/);
  });
});

describe.runIf(redisAvailable())('wirehub worker', () => {
  let redis: RedisProcess;
  afterAll(async () => {
    await redis?.stop();
  });

  it('logs an uncaught exception and an unhandled rejection and keeps running', async () => {
    redis = await RedisProcess.start();
    const worker = await startCliWorker(redis.url, ['--tasks', TRIGGER]);
    worker.child.kill('SIGUSR2');
    await printed(worker.child, worker.output, /uncaught exception \(a bug\)/);
    await printed(worker.child, worker.output, /unhandled promise rejection \(a bug\)/);
    expect(worker.child.exitCode).toBeNull();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });
});
