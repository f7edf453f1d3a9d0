import { Command, InvalidArgumentError, Option } from 'commander';
import { connectPlain } from './connect-plain.js';
import type { ConnectPlan } from './connect-plan.js';
import { connectRt } from './connect-rt.js';
import { collectList, parseDuration, parseNonEmpty, parsePositiveInt } from './parse.js';
import { tokenOption, urlOption, wsBase } from './server-api.js';

/** `epoch:offset`, as `/rt` positions print. */
function parsePosition(raw: string): { epoch: string; offset: number } {
  const colon = raw.lastIndexOf(':');
  const epoch = raw.slice(0, colon);
  const offset = Number(raw.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(offset) || offset < 0) {
    throw new InvalidArgumentError('expected <epoch>:<offset>, e.g. e-Hq2k4Z:17');
  }
  return { epoch, offset };
}

/** A path (`/chat/lobby`) on `--url`, or a whole `ws://` / `wss://` URL. */
function resolveTarget(raw: string, base: string): string {
  if (/^wss?:\/\//.test(raw)) return raw;
  if (raw.startsWith('/')) return `${wsBase(base)}${raw}`;
  throw new InvalidArgumentError(`expected a path such as /chat/lobby or a ws:// URL, got ${raw}`);
}

/**
 * `wirehub connect`: a terminal client for any wirehub endpoint. Plain endpoints (`/ws`,
 * `/echo`, `/chat/{room}`, …) send each stdin line as a text frame and print each frame
 * received; `/rt` (or any `--subscribe`) uses the client SDK, so it reconnects and recovers
 * what it missed, and prints each publication as a JSON line. Data goes to stdout, status to
 * stderr, so it pipes well.
 */
export function connectCommand(): Command {
  return new Command('connect')
    .description(
      'connect to an endpoint: stdin lines are sent, messages received are printed (on /rt: subscribe, publish, recover)',
    )
    .argument('[target]', 'a path such as /chat/lobby or /rt, or a ws:// URL', '/ws')
    .addOption(urlOption())
    .addOption(tokenOption())
    .addOption(
      new Option('--send <text>', 'send this once connected (repeatable), before stdin').argParser(
        (raw: string, previous: string[] | undefined) => [...(previous ?? []), raw],
      ),
    )
    .addOption(new Option('--count <n>', 'exit 0 after receiving n messages').argParser(parsePositiveInt))
    .addOption(
      new Option(
        '--timeout <duration>',
        'stop after this long (e.g. 10s): exit 0, or 1 if --count messages have not all come',
      ).argParser(parseDuration),
    )
    .addOption(
      new Option('--subscribe <channel>', 'subscribe on /rt (repeatable or comma-separated)').argParser(
        collectList,
      ),
    )
    .addOption(
      new Option(
        '--since <epoch:offset>',
        'with one --subscribe: replay what came after this position',
      ).argParser(parsePosition),
    )
    .addOption(
      new Option(
        '--publish <channel>',
        'on /rt: publish each --send and stdin line to this channel',
      ).argParser(parseNonEmpty),
    )
    .action(async function (this: Command, rawTarget: string, flags: Record<string, unknown>) {
      const usage = (message: string): never =>
        this.error(`error: ${message}`, { exitCode: 2, code: 'wirehub.usage' });
      const subscribe = (flags.subscribe as string[] | undefined) ?? [];
      const since = flags.since as ConnectPlan['since'];
      const publish = flags.publish as string | undefined;
      const rt = subscribe.length > 0 || publish !== undefined;
      if (since && subscribe.length !== 1) usage('--since needs exactly one --subscribe');
      let target = '';
      try {
        target = resolveTarget(rt && rawTarget === '/ws' ? '/rt' : rawTarget, flags.url as string);
      } catch (err) {
        usage((err as Error).message);
      }
      const plan: ConnectPlan = {
        target,
        token: flags.token as string | undefined,
        send: (flags.send as string[] | undefined) ?? [],
        count: flags.count as number | undefined,
        timeoutMs: flags.timeout as number | undefined,
        subscribe,
        since,
        publish,
      };
      const isRt = rt || new URL(plan.target).pathname === '/rt';
      process.exitCode = await (isRt ? connectRt(plan) : connectPlain(plan));
    });
}
