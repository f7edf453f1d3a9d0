import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import type { LogFormat } from '../server/pino-logger.js';
import { DEFAULT_RUN_RETENTION_MS } from '../tasks/runs/run-store.js';
import { applyConfigFile, configOption } from './config-file.js';
import { drainOnSignals } from './drain-on-signals.js';
import { opt } from './env-option.js';
import { logFormatOption, logLevelOption } from './log-flags.js';
import {
  collectList,
  parseDuration,
  parseDurationAtLeast,
  parseIntAtLeast,
  parseRedisUrl,
  parseRunRetention,
} from './parse.js';
import { exitOnStartErrors } from './start-guard.js';

interface WorkerFlags {
  redis?: string;
  tasks?: string[];
  concurrency: number;
  drainTimeout: number;
  lockDuration: number;
  stalledInterval: number;
  runRetention: number;
  logLevel: string;
  logFormat: LogFormat;
}

/**
 * `wirehub worker`: runs the cluster's queued runs. Updates go to Redis (run records) and
 * to `run:<id>` on every node; SIGTERM/SIGINT drain it (no new jobs, running ones get
 * `--drain-timeout`, then are handed back to the queue).
 */
export function workerCommand(): Command {
  return new Command('worker')
    .description(
      'run queued task runs of a wirehub cluster (the nodes run with --redis); updates reach run:<id> on every node',
    )
    .addOption(
      new Option('--redis <url>', "the cluster's Redis: redis://host:port[/db] (required)")
        .env('WIREHUB_REDIS_URL')
        .argParser(parseRedisUrl),
    )
    .addOption(
      new Option('--tasks <dir|glob>', 'task modules to run besides the demo tasks (repeatable)')
        .env('WIREHUB_TASKS')
        .argParser(collectList),
    )
    .addOption(
      opt(
        '--concurrency <n>',
        'runs at once, each on its own worker thread',
        'WIREHUB_CONCURRENCY',
        parseIntAtLeast(1),
        availableParallelism(),
        'number of CPUs',
      ),
    )
    .addOption(
      opt(
        '--drain-timeout <duration>',
        'on SIGTERM/SIGINT, how long running attempts may go on; then they are handed back to the queue',
        'WIREHUB_DRAIN_TIMEOUT',
        parseDuration,
        30_000,
        '30s',
      ),
    )
    .addOption(
      opt(
        '--lock-duration <duration>',
        "how long this worker's hold on a job lasts unless renewed (at half of it): a worker that dies is noticed about this long after",
        'WIREHUB_LOCK_DURATION',
        parseDurationAtLeast(200),
        30_000,
        '30s',
      ),
    )
    .addOption(
      opt(
        '--stalled-interval <duration>',
        'how often this worker looks for jobs whose worker died',
        'WIREHUB_STALLED_INTERVAL',
        parseDurationAtLeast(100),
        30_000,
        '30s',
      ),
    )
    .addOption(
      opt(
        '--run-retention <duration>',
        'how long an ended run is kept (the end this worker applies sets it): give every node and worker the same',
        'WIREHUB_RUN_RETENTION',
        parseRunRetention,
        DEFAULT_RUN_RETENTION_MS,
        '7d',
      ),
    )
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .addOption(configOption())
    .hook('preAction', (cmd) => applyConfigFile(cmd))
    .action(async (flags: WorkerFlags, command: Command) => {
      if (!flags.redis) {
        command.error("error: required option '--redis <url>' not specified (or set WIREHUB_REDIS_URL)", {
          exitCode: 2,
          code: 'wirehub.redisRequired',
        });
      }
      // Loaded here so that other commands start without the worker's modules (see serve.ts).
      const started = exitOnStartErrors();
      const { createWorker } = await import('../runtime/worker-node.js');
      const worker = await createWorker({
        redis: flags.redis,
        modules: flags.tasks ?? [],
        concurrency: flags.concurrency,
        lockDurationMs: flags.lockDuration,
        stalledIntervalMs: flags.stalledInterval,
        runRetentionMs: flags.runRetention,
        logLevel: flags.logLevel,
        logFormat: flags.logFormat,
        handleUncaughtErrors: true,
      });
      await worker.start();
      started();
      worker.log.info(
        { worker: worker.name, concurrency: flags.concurrency, tasks: worker.registry.size },
        `wirehub worker ${worker.name} ready`,
      );
      drainOnSignals(
        worker.log,
        () => ({ running: worker.executor.runningHere }),
        () => worker.drain(flags.drainTimeout),
      );
    });
}
