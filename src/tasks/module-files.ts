import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { glob } from 'tinyglobby';

/** Extensions a task module may have: worker threads import it with plain Node. */
const MODULE_GLOB = '**/*.{js,mjs,cjs}';

/** A `--tasks` pattern that matched no module. */
export class TaskModulesNotFoundError extends Error {
  constructor(pattern: string) {
    super(`--tasks ${pattern}: no task modules (.js, .mjs, .cjs) found there`);
    this.name = 'TaskModulesNotFoundError';
  }
}

/**
 * Turns `--tasks` values into absolute module paths: a file is itself, a directory means
 * every module below it (node_modules excluded), anything else is a glob. A pattern that
 * finds nothing is an error rather than a silently empty registry.
 */
export async function resolveTaskModules(
  patterns: readonly string[],
  cwd = process.cwd(),
): Promise<string[]> {
  const files = new Set<string>();
  for (const pattern of patterns) {
    const path = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
    const info = await stat(path).catch(() => undefined);
    let found: string[];
    if (info?.isFile()) found = [path];
    else if (info?.isDirectory()) {
      found = await glob(MODULE_GLOB, { cwd: path, absolute: true, ignore: ['**/node_modules/**'] });
    } else {
      found = await glob(pattern, { cwd, absolute: true, ignore: ['**/node_modules/**'] });
    }
    if (found.length === 0) throw new TaskModulesNotFoundError(pattern);
    for (const file of found.sort()) files.add(file);
  }
  return [...files];
}
