import { Option } from 'commander';

/**
 * A flag that also reads `WIREHUB_<NAME>` and has a default; commander applies
 * flags > env > default (and `--config` slots the file in before the default).
 *
 * @example
 * ```ts
 * command.addOption(opt('--port <port>', 'TCP port', 'WIREHUB_PORT', parsePort, 8080));
 * ```
 */
export function opt<T>(
  flags: string,
  description: string,
  env: string,
  parse: (raw: string) => T,
  fallback: T,
  shown?: string,
): Option {
  return new Option(flags, description)
    .env(env)
    .argParser((raw: string) => parse(raw))
    .default(fallback, shown);
}
