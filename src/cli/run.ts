import type cliProgress from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { CloseCode } from '../protocol/close-codes.js';
import { openSocket } from './open-socket.js';
import { getJson, type TaskInfo, tokenOption, urlOption, wsBase } from './server-api.js';

const NAME = '[A-Za-z0-9_.-]{1,64}';
const REF = new RegExp(`^(${NAME})/(${NAME})/(${NAME})(?:@(${NAME}))?$`);
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']);

export interface CliTaskRef {
  project: string;
  domain: string;
  task: string;
  version: string;
}

/** `project/domain/name[@version]`; no version means `latest`. */
export function parseTaskRef(raw: string): CliTaskRef {
  const m = REF.exec(raw.trim());
  if (!m) throw new InvalidArgumentError('expected project/domain/name or project/domain/name@version');
  return { project: m[1] ?? '', domain: m[2] ?? '', task: m[3] ?? '', version: m[4] ?? 'latest' };
}

function parseAssignment(raw: string, previous: [string, string][]): [string, string][] {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected key=value');
  return [...previous, [raw.slice(0, eq), raw.slice(eq + 1)]];
}

function parseJsonObject(raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidArgumentError('expected a JSON object, e.g. \'{"text":"hello"}\'');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('expected a JSON object, e.g. \'{"text":"hello"}\'');
  }
  return value as Record<string, unknown>;
}

/**
 * `--input key=value` values: kept as text where the task's schema expects a string,
 * otherwise read as JSON when they are JSON (`n=5` is the number 5), else as text.
 */
export function coerceInput(raw: string, type: string | undefined): unknown {
  if (type === 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

interface Update {
  run_id?: string;
  seq?: number;
  status?: string;
  message?: string;
  progress?: number;
  url?: string;
  outputs?: unknown;
  error?: { code?: string; kind?: string; message: string; details?: unknown };
}

/** Where the run's progress goes: a live bar on a terminal, one line per update otherwise. */
class ProgressView {
  private readonly bar: cliProgress.SingleBar | undefined;

  /** `cli-progress` is loaded here, not at the CLI's start: `wirehub serve` never draws a bar. */
  static async open(tty: boolean): Promise<ProgressView> {
    return new ProgressView(tty ? (await import('cli-progress')).default : undefined);
  }

  private constructor(progress: typeof cliProgress | undefined) {
    if (progress) {
      this.bar = new progress.SingleBar(
        { format: ' {bar} {percentage}% | {status} {message}', stream: process.stderr, hideCursor: true },
        progress.Presets.shades_classic,
      );
      this.bar.start(100, 0, { status: 'QUEUED', message: '' });
    }
  }

  update(u: Update): void {
    if (this.bar) {
      const payload = { status: u.status ?? '', message: u.message ?? '' };
      if (u.progress === undefined) this.bar.update(payload);
      else this.bar.update(u.progress, payload);
      return;
    }
    const pct = u.progress === undefined ? '' : ` ${u.progress}%`;
    process.stderr.write(`[${u.status}${pct}] ${u.message ?? ''}\n`);
  }

  stop(): void {
    this.bar?.stop();
  }
}

async function inputTypes(
  url: string,
  ref: CliTaskRef,
  token: string | undefined,
): Promise<Record<string, string | undefined>> {
  const { tasks } = await getJson<{ tasks: TaskInfo[] }>(url, '/api/tasks', token);
  const matching = tasks.filter(
    (t) => t.project === ref.project && t.domain === ref.domain && t.name === ref.task,
  );
  const task = ref.version === 'latest' ? matching.at(-1) : matching.find((t) => t.version === ref.version);
  const types: Record<string, string | undefined> = {};
  for (const [name, prop] of Object.entries(task?.inputs.properties ?? {})) types[name] = prop.type;
  return types;
}

/** Starts the run over `/task-runner`, shows its updates, prints its outputs. Resolves with the exit code. */
async function runTask(
  ref: CliTaskRef,
  inputs: Record<string, unknown>,
  url: string,
  token: string | undefined,
): Promise<number> {
  const ws = await openSocket(`${wsBase(url)}/task-runner`, token, undefined, url);
  const view = await ProgressView.open(process.stderr.isTTY === true);
  let runId: string | undefined;
  let settled = false;
  return new Promise<number>((resolve) => {
    const finish = (code: number) => {
      if (settled) return;
      settled = true;
      view.stop();
      process.off('SIGINT', onSigint);
      ws.close(CloseCode.Normal);
      resolve(code);
    };
    const onSigint = () => {
      if (!runId) return finish(1);
      process.stderr.write(`\ncancelling run ${runId}…\n`);
      ws.send(JSON.stringify({ cancel: runId }));
    };
    process.on('SIGINT', onSigint);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Update;
      if (m.error && m.seq === undefined) {
        view.stop();
        process.stderr.write(`wirehub: ${m.error.code}: ${m.error.message}\n`);
        const issues = (m.error.details as { issues?: { path: string[]; message: string }[] } | undefined)
          ?.issues;
        for (const i of issues ?? [])
          process.stderr.write(`  ${i.path.join('.') || '(inputs)'}: ${i.message}\n`);
        return finish(1);
      }
      if (m.status === 'started' && m.seq === undefined) {
        runId = m.run_id;
        process.stderr.write(`run ${runId} started: ${m.url}\n`);
        return;
      }
      if (m.run_id !== runId || m.seq === undefined) return;
      view.update(m);
      if (!TERMINAL.has(m.status ?? '')) return;
      view.stop();
      if (m.status === 'SUCCEEDED') {
        process.stdout.write(`${JSON.stringify(m.outputs, null, 2)}\n`);
        return finish(0);
      }
      process.stderr.write(
        `run ${runId} ${m.status}: ${m.error ? `${m.error.kind}: ${m.error.message}` : m.message}\n`,
      );
      return finish(1);
    });
    ws.on('close', () => {
      if (settled) return;
      process.stderr.write(
        `wirehub: the connection closed before the run ended${runId ? ` (run ${runId} goes on)` : ''}\n`,
      );
      finish(1);
    });
    ws.send(JSON.stringify({ ...ref, inputs }));
  });
}

export function runCommand(): Command {
  return new Command('run')
    .description('run a task on a wirehub server and follow it; exits 0 when it SUCCEEDED, 1 otherwise')
    .argument('<task>', 'project/domain/name[@version] (default version: latest)', parseTaskRef)
    .addOption(urlOption())
    .addOption(tokenOption())
    .option(
      '--input <key=value>',
      'one input (repeatable); read as JSON (n=5) unless the task expects text',
      parseAssignment,
      [] as [string, string][],
    )
    .option('--inputs <json>', 'all inputs as a JSON object', parseJsonObject)
    .addHelpText(
      'after',
      '\nExample:\n  wirehub run demo/development/word-count@v1 --input text="hello world"',
    )
    .action(
      async (
        ref: CliTaskRef,
        flags: {
          url: string;
          token?: string;
          input: [string, string][];
          inputs?: Record<string, unknown>;
        },
      ) => {
        const inputs: Record<string, unknown> = { ...flags.inputs };
        if (flags.input.length > 0) {
          const types = await inputTypes(flags.url, ref, flags.token);
          for (const [key, raw] of flags.input) inputs[key] = coerceInput(raw, types[key]);
        }
        process.exitCode = await runTask(ref, inputs, flags.url, flags.token);
      },
    );
}
