import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

/**
 * The layers of DESIGN.md as data: each folder of src/ may import its own files and the folders
 * below it, never one above or beside it. `only` narrows a folder further (the client SDK runs
 * in browsers: the protocol and zod, nothing else; its React bindings: the SDK and React, a
 * peer dependency, in `packages`). src/index.ts (the public API) re-exports from every layer;
 * web/ (the dashboard) uses the SDK as a browser does.
 */
const LAYERS: { folder: string; rank: number; only?: string[]; packages?: string[] }[] = [
  { folder: 'cli', rank: 10 },
  { folder: 'runtime', rank: 9 },
  { folder: 'server', rank: 8 },
  { folder: 'react', rank: 7, only: ['client', 'protocol'], packages: ['react'] },
  { folder: 'client', rank: 6, only: ['protocol'] },
  { folder: 'endpoints', rank: 5 },
  { folder: 'tasks', rank: 4 },
  { folder: 'hub', rank: 3 },
  { folder: 'engine', rank: 2 },
  { folder: 'protocol', rank: 1, only: [] },
  { folder: 'util', rank: 1, only: [] },
];

/** The packages the narrow layers (those with `only`) may import. */
const ZOD = ['zod', 'zod/mini', 'zod/v4/core'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return /\.(ts|tsx|mts)$/.test(name) ? [path] : [];
  });
}

/** Every static import / export-from / dynamic import() specifier of a file. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm))
    out.push(m[1] as string);
  for (const m of source.matchAll(/^\s*import\s+'([^']+)'/gm)) out.push(m[1] as string);
  for (const m of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1] as string);
  return out;
}

/** The top folder of src/ a path is in, or undefined for src/ itself. */
function layerOf(path: string): string | undefined {
  const rel = relative(join(ROOT, 'src'), path);
  if (rel.startsWith('..')) return undefined;
  const [first, ...rest] = rel.split(sep);
  return rest.length > 0 ? first : undefined;
}

describe('the layers of DESIGN.md', () => {
  it('every src/ folder is a layer of the map', () => {
    const folders = readdirSync(join(ROOT, 'src')).filter((n) =>
      statSync(join(ROOT, 'src', n)).isDirectory(),
    );
    const known = new Set(LAYERS.map((l) => l.folder));
    expect(folders.filter((f) => !known.has(f))).toEqual([]);
  });

  it('imports point downwards only: no upward, sideways or unlisted import in src/', () => {
    const rank = new Map(LAYERS.map((l) => [l.folder, l]));
    const findings: string[] = [];
    for (const file of filesUnder(join(ROOT, 'src'))) {
      const from = layerOf(file);
      if (from === undefined) continue; // src/index.ts: the public API re-exports every layer
      const layer = rank.get(from);
      if (!layer) continue; // reported by the test above
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        const where = `${relative(ROOT, file)} imports ${spec}`;
        if (!spec.startsWith('.')) {
          // The narrow layers (client, protocol, util) take zod and, outside the client, Node's built-ins;
          // the React bindings take React and no zod.
          const allowed = layer.packages
            ? layer.packages.includes(spec)
            : ZOD.includes(spec) || (from !== 'client' && spec.startsWith('node:'));
          if (layer.only && !allowed)
            findings.push(`${where}: ${from}/ takes no package but ${layer.packages?.join(', ') ?? 'zod'}`);
          continue;
        }
        const target = layerOf(normalize(join(file, '..', spec)));
        if (target === undefined || target === from) continue;
        const to = rank.get(target);
        if (!to) findings.push(`${where}: ${target}/ is not a layer`);
        else if (layer.only && !layer.only.includes(target))
          findings.push(`${where}: ${from}/ may import only ${layer.only.join(', ') || 'itself'}`);
        else if (to.rank >= layer.rank)
          findings.push(
            `${where}: ${from}/ (rank ${layer.rank}) must not import ${target}/ (rank ${to.rank})`,
          );
      }
    }
    expect(findings).toEqual([]);
  });

  it('the dashboard (web/) uses only the client SDK and the protocol, as a browser page does', () => {
    const findings: string[] = [];
    for (const file of filesUnder(join(ROOT, 'web'))) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) {
          findings.push(`${relative(ROOT, file)} imports the package ${spec}`);
          continue;
        }
        const target = relative(ROOT, normalize(join(file, '..', spec)));
        if (target.startsWith('web') || /^src\/(client|protocol)\//.test(target)) continue;
        findings.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
    expect(findings).toEqual([]);
  });

  it('finds an upward import when there is one (the check itself is not blind)', () => {
    expect(
      specifiers(
        "import { Hub } from '../hub/hub.js';\nexport { x } from './x.js';\nawait import('../cli/main.js');",
      ),
    ).toEqual(['../hub/hub.js', './x.js', '../cli/main.js']);
    expect(layerOf(join(ROOT, 'src/engine/redis/redis-engine.ts'))).toBe('engine');
    expect(layerOf(join(ROOT, 'src/index.ts'))).toBeUndefined();
  });
});
