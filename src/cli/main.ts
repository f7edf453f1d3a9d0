#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { benchCommand } from './bench/command.js';
import { connectCommand } from './connect.js';
import { runCommand } from './run.js';
import { serveCommand } from './serve.js';
import { tasksCommand } from './tasks.js';
import { workerCommand } from './worker.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('wirehub')
  .description('wirehub: a real-time WebSocket server and toolkit')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addCommand(serveCommand())
  .addCommand(workerCommand())
  .addCommand(tasksCommand())
  .addCommand(runCommand())
  .addCommand(connectCommand())
  .addCommand(benchCommand());

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
