import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { weakenVersionRequirement } from './elf-weaken-version.js';

/**
 * uWebSockets.js is not published to the npm registry by its authors (uNetworking ships it
 * from GitHub only, which this machine cannot reach). `@btc-vision/uwebsockets.js` is a
 * third-party republication of its release binaries on the registry. It is installed on
 * demand into bench/.cache (never a dependency of wirehub, not even a devDependency: it is
 * 114 MB of binaries for every platform) and pinned to one version.
 */
export const UWS_PACKAGE = '@btc-vision/uwebsockets.js';
export const UWS_VERSION = '20.57.0';

export interface UwsBaseline {
  /** Path of the binary to `process.dlopen`. */
  binding: string;
  /** Extra environment for the server process (LD_PRELOAD of the glibc shim, when needed). */
  env: Record<string, string>;
  provenance: {
    package: string;
    version: string;
    resolved: string;
    integrity: string;
    binary: string;
    binarySha256: string;
    /** What had to be done to load it here, if anything. */
    adaptation: string;
  };
}

function loads(binding: string, env: Record<string, string>): string | undefined {
  const r = spawnSync(process.execPath, ['-e', 'process.dlopen({ exports: {} }, process.argv[1])', binding], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return r.status === 0 ? undefined : (r.stderr || `exit ${r.status}`).trim();
}

/**
 * Installs (once) and prepares the uWebSockets.js baseline, or says why it cannot run here.
 * Its prebuilt Linux binaries need glibc 2.38 for three C23 parsing functions; on an older
 * glibc (Debian 12 has 2.36) the requirement is weakened in a copy of the binary and the
 * three functions come from a tiny LD_PRELOAD shim built with the system C compiler.
 */
export function prepareUws(root: string): UwsBaseline | { skipped: string } {
  const dir = join(root, 'bench/.cache/uws');
  const pkgDir = join(dir, 'node_modules', UWS_PACKAGE);
  try {
    const installed = existsSync(join(pkgDir, 'package.json'))
      ? (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version
      : undefined;
    if (installed !== UWS_VERSION) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), '{ "private": true }\n');
      execFileSync(
        'npm',
        ['install', '--no-audit', '--no-fund', '--prefix', dir, `${UWS_PACKAGE}@${UWS_VERSION}`],
        { stdio: 'ignore' },
      );
    }
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string; integrity?: string }>;
    };
    const entry = lock.packages[`node_modules/${UWS_PACKAGE}`] ?? {};
    const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    const original = join(pkgDir, file);
    if (!existsSync(original)) return { skipped: `${UWS_PACKAGE}@${UWS_VERSION} has no ${file}` };
    const provenance = {
      package: UWS_PACKAGE,
      version: UWS_VERSION,
      resolved: entry.resolved ?? '',
      integrity: entry.integrity ?? '',
      binary: file,
      binarySha256: createHash('sha256').update(readFileSync(original)).digest('hex'),
      adaptation: 'none',
    };
    const failure = loads(original, {});
    if (failure === undefined) return { binding: original, env: {}, provenance };
    if (!failure.includes('GLIBC_2.38')) return { skipped: `cannot load ${file}: ${failure.split('\n')[0]}` };
    const patched = join(dir, `patched-${file}`);
    const shim = join(dir, 'glibc-2.38-shim.so');
    weakenVersionRequirement(original, patched, 'GLIBC_2.38');
    execFileSync('cc', [
      '-O2',
      '-shared',
      '-fPIC',
      '-o',
      shim,
      join(root, 'bench/support/glibc-2.38-shim.c'),
    ]);
    const env = { LD_PRELOAD: shim };
    const still = loads(patched, env);
    if (still !== undefined) return { skipped: `cannot load ${file} even with the glibc shim: ${still}` };
    return {
      binding: patched,
      env,
      provenance: {
        ...provenance,
        adaptation:
          'GLIBC_2.38 requirement marked weak in a copy of the binary; __isoc23_strtol/strtoul/sscanf from an LD_PRELOAD shim (bench/support/glibc-2.38-shim.c)',
      },
    };
  } catch (err) {
    return {
      skipped: `uWebSockets.js baseline unavailable: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
