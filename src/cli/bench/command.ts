import { Command, Option } from 'commander';
import { parseDuration, parseSize } from '../parse.js';
import type { CommonOptions } from './common.js';
import { parseChannel, parseCount, parseWsUrl } from './flags.js';
import { type BenchReport, renderTable } from './report.js';

// The scenarios (and hdr-histogram, cli-progress, the drivers) load when a bench runs: every
// `wirehub serve` and each of its --workers processes parses this CLI, and must not pay
// ~15 MB of RSS for a load generator it never starts.

interface CommonFlags {
  url: string;
  duration: number;
  warmup: number;
  connectTimeout: number;
  concurrency: number;
  serverPid?: number;
  json?: boolean;
  progress: boolean;
  smoke?: boolean;
}

/**
 * The values `--smoke` puts in place of defaults: a run of a second or two that exercises
 * every code path of a scenario (the test suite runs each one so the bench cannot rot).
 * Flags given on the command line still win.
 */
type Smoke = Record<string, number>;

function addCommon(cmd: Command, path: string, durationHelp: string, duration: string): Command {
  return cmd
    .addOption(
      new Option('--url <url>', 'WebSocket URL of the endpoint under test')
        .argParser((raw) => parseWsUrl(raw, path))
        .default(`ws://127.0.0.1:8080${path}`),
    )
    .addOption(
      new Option('--duration <duration>', durationHelp)
        .argParser(parseDuration)
        .default(parseDuration(duration), duration),
    )
    .addOption(
      new Option('--connect-timeout <duration>', 'per-handshake timeout')
        .argParser(parseDuration)
        .default(10_000, '10s'),
    )
    .addOption(
      new Option(
        '--server-pid <pid>',
        'server process id: report its CPU per message and RSS from /proc',
      ).argParser(parseCount(1, 2 ** 22)),
    )
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress bar (it only shows on a terminal anyway)')
    .option('--smoke', 'a tiny, quick run that checks the scenario works (used by the tests)');
}

/** Options whose value still comes from the default take the smoke value instead. */
function applySmoke<T extends object>(cmd: Command, flags: T, smoke: Smoke): T {
  if (!(flags as { smoke?: boolean }).smoke) return flags;
  const out = { ...flags } as Record<string, unknown>;
  for (const [key, value] of Object.entries(smoke)) {
    if (cmd.getOptionValueSource(key) === 'default') out[key] = value;
  }
  return out as T;
}

async function commonOptions(flags: CommonFlags): Promise<CommonOptions> {
  const { Progress } = await import('./progress.js');
  return {
    url: flags.url,
    durationMs: flags.duration,
    warmupMs: flags.warmup,
    connectTimeoutMs: flags.connectTimeout,
    concurrency: flags.concurrency,
    ...(flags.serverPid === undefined ? {} : { serverPid: flags.serverPid }),
    progress: new Progress(flags.progress && !flags.json),
  };
}

function print(report: BenchReport<object>, json: boolean | undefined): void {
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
}

const concurrency = (n: number) =>
  new Option('--concurrency <n>', 'handshakes in flight at once').argParser(parseCount(1, 10_000)).default(n);
const warmup = () =>
  new Option('--warmup <duration>', 'load before the measured window (not counted)')
    .argParser(parseDuration)
    .default(0, '0');

function echoCommand(): Command {
  const cmd = new Command('echo').description(
    'C connections x K messages in flight against an echo endpoint: replies/s, round-trip latency, loss',
  );
  addCommon(cmd, '/echo', 'measured window (the time bound)', '10s')
    .addOption(warmup())
    .addOption(concurrency(100))
    .addOption(new Option('--connections <n>', 'connections').argParser(parseCount(1, 100_000)).default(50))
    .addOption(
      new Option('--in-flight <n>', 'messages outstanding per connection')
        .argParser(parseCount(1, 10_000))
        .default(10),
    )
    .addOption(new Option('--payload <size>', 'message size').argParser(parseSize).default(64, '64'))
    .addOption(
      new Option('--messages <n>', 'count bound on messages sent')
        .argParser(parseCount(1, 1e9))
        .default(100_000_000),
    )
    .action(
      async (
        raw: CommonFlags & { connections: number; inFlight: number; payload: number; messages: number },
      ) => {
        const f = applySmoke(cmd, raw, { connections: 2, inFlight: 2, messages: 200, duration: 3_000 });
        const { runEcho } = await import('./echo.js');
        const report = await runEcho({
          ...(await commonOptions(f)),
          connections: f.connections,
          inFlight: f.inFlight,
          payloadBytes: f.payload,
          maxMessages: f.messages,
        });
        print(report, f.json);
      },
    );
  return cmd;
}

function fanoutCommand(): Command {
  const cmd = new Command('fanout').description(
    'N subscribers of a broadcast endpoint or an /rt channel, one publisher: deliveries/s, publish-to-receive latency, loss',
  );
  addCommon(cmd, '/broadcast', 'measured window (the time bound)', '10s')
    .addOption(warmup())
    .addOption(concurrency(100))
    .addOption(new Option('--subscribers <n>', 'subscribers').argParser(parseCount(1, 100_000)).default(1000))
    .addOption(
      new Option(
        '--channel <name>',
        'publish and subscribe on this /rt channel (the URL is an /rt endpoint)',
      ).argParser(parseChannel),
    )
    .addOption(
      new Option('--rate <n>', 'publications per second; 0 = flat out')
        .argParser(parseCount(0, 1_000_000))
        .default(0),
    )
    .addOption(
      new Option('--in-flight <n>', 'flat out: publications not yet received by everyone')
        .argParser(parseCount(1, 10_000))
        .default(8),
    )
    .addOption(new Option('--payload <size>', 'message size').argParser(parseSize).default(64, '64'))
    .addOption(
      new Option('--publications <n>', 'count bound on publications')
        .argParser(parseCount(1, 1e9))
        .default(10_000_000),
    )
    .action(
      async (
        raw: CommonFlags & {
          subscribers: number;
          channel?: string;
          rate: number;
          inFlight: number;
          payload: number;
          publications: number;
        },
      ) => {
        const f = applySmoke(cmd, raw, { subscribers: 10, publications: 50, inFlight: 4, duration: 3_000 });
        const { runFanout } = await import('./fanout.js');
        const report = await runFanout({
          ...(await commonOptions(f)),
          subscribers: f.subscribers,
          ...(f.channel === undefined ? {} : { channel: f.channel }),
          rate: f.rate,
          inFlight: f.inFlight,
          payloadBytes: f.payload,
          maxPublications: f.publications,
        });
        print(report, f.json);
      },
    );
  return cmd;
}

function connectionsCommand(): Command {
  const cmd = new Command('connections').description(
    'open N idle connections and hold them (127.0.0.x source addresses when ports run out): handshake latency, server RSS per connection',
  );
  addCommon(cmd, '/echo', 'how long the connections are held', '2s')
    .addOption(concurrency(200))
    .addOption(
      new Option('--count <n>', 'connections to open').argParser(parseCount(1, 1_000_000)).default(1000),
    )
    .action(async (raw: CommonFlags & { count: number }) => {
      const f = applySmoke(cmd, raw, { count: 20, duration: 100 });
      const { runConnections } = await import('./connections.js');
      const report = await runConnections({ ...(await commonOptions(f)), count: f.count });
      print(report, f.json);
    });
  return cmd;
}

function churnCommand(): Command {
  const cmd = new Command('churn').description(
    'workers connect and close in a loop: connect+close cycles per second, handshake latency',
  );
  addCommon(cmd, '/echo', 'time bound', '10s')
    .addOption(concurrency(10))
    .addOption(
      new Option('--cycles <n>', 'count bound on cycles').argParser(parseCount(1, 1e9)).default(1_000_000),
    )
    .action(async (raw: CommonFlags & { cycles: number }) => {
      const f = applySmoke(cmd, raw, { cycles: 20, concurrency: 2, duration: 3_000 });
      const { runChurn } = await import('./churn.js');
      const report = await runChurn({ ...(await commonOptions(f)), maxCycles: f.cycles });
      print(report, f.json);
    });
  return cmd;
}

/**
 * `wirehub bench <scenario>`: the load generator. Every loop is bounded in count and time.
 *
 * @example
 * ```sh
 * wirehub bench echo --url ws://127.0.0.1:8080/echo --connections 50 --in-flight 10 --duration 10s
 * wirehub bench fanout --url ws://127.0.0.1:8080/broadcast --subscribers 5000 --rate 20
 * wirehub bench fanout --url ws://127.0.0.1:8080/rt --channel bench --subscribers 1000
 * wirehub bench connections --count 10000 --server-pid "$(pgrep -f 'wirehub serve')" --json
 * ```
 */
export function benchCommand(): Command {
  const bench = new Command('bench')
    .description('load generator: echo | fanout | connections | churn (see docs/benchmarks.md)')
    .addCommand(echoCommand())
    .addCommand(fanoutCommand())
    .addCommand(connectionsCommand())
    .addCommand(churnCommand());
  for (const cmd of bench.commands) cmd.exitOverride();
  return bench;
}
