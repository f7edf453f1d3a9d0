import type { Option } from 'commander';
import { serverDefaults } from '../server/defaults.js';
import { opt } from './env-option.js';
import { defaultLogFormat, parseLogFormat, parseLogLevel } from './parse.js';

/**
 * `--log-level` (env `WIREHUB_LOG_LEVEL`), the same for every command that runs a process
 * (`serve`, `worker`).
 *
 * @example
 * ```ts
 * command.addOption(logLevelOption()).addOption(logFormatOption());
 * ```
 */
export function logLevelOption(): Option {
  return opt(
    '--log-level <level>',
    'fatal|error|warn|info|debug|trace|silent',
    'WIREHUB_LOG_LEVEL',
    parseLogLevel,
    serverDefaults.logLevel,
  );
}

/** `--log-format` (env `WIREHUB_LOG_FORMAT`): pretty on a terminal, json otherwise. See `logLevelOption`. */
export function logFormatOption(): Option {
  return opt(
    '--log-format <format>',
    'json|pretty (default: pretty on a terminal, json otherwise)',
    'WIREHUB_LOG_FORMAT',
    parseLogFormat,
    defaultLogFormat(),
    'pretty on a terminal, json otherwise',
  );
}
