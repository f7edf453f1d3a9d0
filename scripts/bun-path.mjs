#!/usr/bin/env node
// Finds the Bun binary: $WIREHUB_BUN, else the one the npm registry package ships
// (optional dependency @oven/bun-linux-x64, Linux x64 only), else `bun` on PATH. Prints its path when run.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The path of the Bun binary to use, or undefined when there is none. */
export function findBun() {
  if (process.env.WIREHUB_BUN) return process.env.WIREHUB_BUN;
  const shipped = fileURLToPath(new URL('../node_modules/@oven/bun-linux-x64/bin/bun', import.meta.url));
  if (existsSync(shipped)) return shipped;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/bun`)) return `${dir}/bun`;
  }
  return undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bun = findBun();
  if (!bun) {
    console.error(
      'wirehub: no Bun binary: run npm ci (optional dependency @oven/bun-linux-x64, Linux x64 only) or set WIREHUB_BUN',
    );
    process.exit(1);
  }
  console.log(bun);
}
