#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * The commands, loaded only when asked for: `wirehub serve` does not load the load generator,
 * the client SDK or the task tools (under Bun that is ~3 MB of the idle server's RSS). Help and
 * anything that is not a command name load them all, in this order.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand(),
  worker: async () => (await import('./worker.js')).workerCommand(),
  tasks: async () => (await import('./tasks.js')).tasksCommand(),
  run: async () => (await import('./run.js')).runCommand(),
  connect: async () => (await import('./connect.js')).connectCommand(),
  bench: async () => (await import('./bench/command.js')).benchCommand(),
};
const asked = process.argv[2];
const names = asked !== undefined && Object.hasOwn(COMMANDS, asked) ? [asked] : Object.keys(COMMANDS);

const program = new Command('wirehub')
  .description('wirehub: a real-time WebSocket server and toolkit')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();
for (const name of names) program.addCommand(await (COMMANDS[name] as () => Promise<Command>)());

for (const cmd of program.commands) cmd.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; any usage error (bad flag or value) exits 2.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  console.error(`wirehub: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
