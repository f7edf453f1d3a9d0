import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';

/** `--config <file>` (env `WIREHUB_CONFIG`): a JSON file of flag values. */
export function configOption(): Option {
  return new Option(
    '--config <file>',
    'a JSON file of flag values, e.g. {"port": 8080, "redis": "redis://…"}; flags and WIREHUB_* variables win over it',
  ).env('WIREHUB_CONFIG');
}

type Usage = (message: string) => never;

/**
 * Fills the options that neither a flag nor a `WIREHUB_*` variable set from the `--config`
 * file, so the order is flags > env > file > defaults. Keys are the long flag names, with or
 * without dashes (`"max-runs-per-user"` or `"maxRunsPerUser"`); values go through the flag's
 * own parser (`"30s"`, `"64KiB"`, numbers, and arrays for repeatable flags such as `api-key`),
 * so a file accepts exactly what the command line accepts. A file that cannot be read, is
 * not a JSON object, names an unknown flag or holds a bad value stops the command with a
 * usage error naming the file and the key.
 *
 * @example
 * ```ts
 * serve.addOption(configOption()).hook('preAction', (cmd) => applyConfigFile(cmd));
 * ```
 */
export function applyConfigFile(command: Command): void {
  const file = command.getOptionValue('config') as string | undefined;
  if (file === undefined) return;
  const usage: Usage = (message) =>
    command.error(`error: ${message}`, { exitCode: 2, code: 'wirehub.usage' });
  const values = readConfig(file, usage);
  const byName = new Map<string, Option>();
  for (const option of command.options) {
    if (!option.long || option.long === '--config' || option.long === '--help') continue;
    byName.set(option.long.slice(2), option);
    byName.set(option.attributeName(), option);
  }
  for (const [key, raw] of Object.entries(values)) {
    const option = byName.get(key);
    if (!option) {
      const known = [...new Set([...byName.values()].map((o) => o.long?.slice(2)))].join(', ');
      usage(`${file}: unknown key "${key}"; the keys are the flags of this command: ${known}`);
    }
    // Checked even when a flag or variable wins over it: a bad file is an error either way.
    const value = parseValue(option, raw, `${file}: "${key}"`, usage);
    const name = option.attributeName();
    const source = command.getOptionValueSource(name);
    if (source !== 'cli' && source !== 'env') command.setOptionValueWithSource(name, value, 'config');
  }
}

function readConfig(file: string, usage: Usage): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return usage(
      `cannot read the config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return usage(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return usage(`${file} must hold a JSON object of flag values, e.g. {"port": 8080}`);
  }
  return value as Record<string, unknown>;
}

/** A file value through the flag's parser, exactly as if it had been typed. */
function parseValue(option: Option, raw: unknown, where: string, usage: Usage): unknown {
  if (option.isBoolean()) {
    if (typeof raw !== 'boolean') usage(`${where} must be true or false`);
    return raw;
  }
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length === 0) usage(`${where} must not be empty`);
  let value: unknown;
  for (const item of items) {
    if (typeof item !== 'string' && typeof item !== 'number') usage(`${where} must be a string or a number`);
    try {
      value = option.parseArg ? option.parseArg(String(item), value) : String(item);
    } catch (err) {
      usage(`${where}: ${(err as Error).message}`);
    }
    // Only repeatable flags (their parser collects a list) take a list.
    if (Array.isArray(raw) && !Array.isArray(value)) usage(`${where} takes one value, not a list`);
  }
  return value;
}
