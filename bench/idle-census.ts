/**
 * `npm run bench:idle-census`: what one idle connection costs the server, class by class.
 * Starts `wirehub serve` (dist/, with the bench hooks), takes a V8 heap snapshot after a
 * forced GC, opens N idle connections on an endpoint, takes another, and prints the
 * difference per connection, grouped by V8 node type and constructor/function name, next to
 * the process figures (RSS, heap used/total, external) per connection.
 *
 *   npx tsx bench/idle-census.ts                         # 10,000 on /echo
 *   npx tsx bench/idle-census.ts --path /rt --count 5000 --top 30
 *   npx tsx bench/idle-census.ts --server bench/baselines/raw-ws.mjs   # the raw ws baseline
 *   npx tsx bench/idle-census.ts --shapes      # also: the new objects by their property names
 *   npx tsx bench/idle-census.ts --rss-only    # no snapshots (they inflate RSS): memory figures only
 *   npx tsx bench/idle-census.ts --keep        # keep the .heapsnapshot files (open them in DevTools)
 *   npx tsx bench/idle-census.ts --dist /tmp/base/dist   # another build of wirehub
 *   npx tsx bench/idle-census.ts --settle 20000   # wait 20 s (not 1 s) before each sample
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { closeAll, connectAll, ErrorLog } from '../src/cli/bench/common.js';
import { NO_LIMITS } from './support/no-limits.js';
import { freePort, ServerProcess } from './support/servers.js';

const root = new URL('..', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    path: { type: 'string', default: '/echo' },
    count: { type: 'string', default: '10000' },
    top: { type: 'string', default: '25' },
    server: { type: 'string' },
    shapes: { type: 'boolean', default: false },
    'rss-only': { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
    keep: { type: 'boolean', default: false },
    settle: { type: 'string', default: '1000' },
    dist: { type: 'string', default: 'dist' },
  },
});
const count = Number(args.count);
const path = args.path;
const protocols = path === '/rt' ? ['wirehub.v1'] : undefined;

/**
 * Resident memory of a process in bytes (/proc/<pid>/status), and the part of it in malloc's
 * main arena (the `[heap]` mapping of /proc/<pid>/smaps: native allocations of Node and libuv).
 */
function readRss(pid: number): { rss: number; anon: number; brk: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const heap = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB/.exec(smaps)?.[1];
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), brk: Number(heap ?? 0) * 1024 };
}

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/**
 * Self size and count of each (type, name) group in a .heapsnapshot; with `shapes`, the
 * objects, closures and contexts whose id is not in `known` grouped by their property names.
 */
function census(
  file: string,
  shapes?: { known: Set<number>; out: Map<string, { bytes: number; count: number }> },
): { groups: Map<string, { bytes: number; count: number }>; ids: Set<number> } {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const idAt = fields.indexOf('id');
  const edgeCountAt = fields.indexOf('edge_count');
  const edgeFields = snap.snapshot.meta.edge_fields;
  const edgeWidth = edgeFields.length;
  const edgeTypes = snap.snapshot.meta.edge_types[0];
  const edgeTypeAt = edgeFields.indexOf('type');
  const edgeNameAt = edgeFields.indexOf('name_or_index');
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, { bytes: number; count: number }>();
  const ids = new Set<number>();
  let edge = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const edges = snap.nodes[i + edgeCountAt] as number;
    const firstEdge = edge;
    edge += edges * edgeWidth;
    const id = snap.nodes[i + idAt] as number;
    if (!shapes) ids.add(id);
    const type = types[snap.nodes[i + typeAt] as number] ?? '?';
    let name = snap.strings[snap.nodes[i + nameAt] as number] ?? '?';
    // Strings and numbers are named by their content: group them by type only.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number')
      name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}\t${name}`;
    const entry = out.get(key) ?? { bytes: 0, count: 0 };
    entry.bytes += snap.nodes[i + sizeAt] as number;
    entry.count += 1;
    out.set(key, entry);
    if (shapes && !shapes.known.has(id) && (type === 'object' || type === 'closure')) {
      const names: string[] = [];
      for (let e = firstEdge; e < firstEdge + edges * edgeWidth; e += edgeWidth) {
        const et = edgeTypes[snap.edges[e + edgeTypeAt] as number];
        if (et === 'property' || et === 'context')
          names.push(snap.strings[snap.edges[e + edgeNameAt] as number] ?? '?');
      }
      const shape = `${type} ${name}{${names.slice(0, 12).join(',')}}`;
      const s = shapes.out.get(shape) ?? { bytes: 0, count: 0 };
      s.bytes += snap.nodes[i + sizeAt] as number;
      s.count += 1;
      shapes.out.set(shape, s);
    }
  }
  return { groups: out, ids };
}

const dir = mkdtempSync(join(tmpdir(), 'wirehub-census-'));
const spec = args.server
  ? { args: [join(root, args.server)] }
  : {
      args: [
        resolve(root, args.dist, 'cli/main.js'),
        'serve',
        '--log-level',
        'warn',
        '--data-dir',
        dir,
        '--drain-window',
        '0',
        ...NO_LIMITS,
      ],
    };
const port = await freePort();
const nodeFlags = args['node-flags'].split(' ').filter(Boolean);
const server = await ServerProcess.start(spec, port, ['--max-old-space-size=2048', ...nodeFlags]);
try {
  const url = `ws://127.0.0.1:${port}${path}`;
  // One connection first, so lazily built module state (JIT, caches) is in both snapshots.
  const warm = await connectAll({ url, durationMs: 0 }, 1, new ErrorLog(), protocols ? { protocols } : {});
  await closeAll(warm.sockets);
  const snap = (name: string) =>
    args['rss-only'] ? server.gc() : server.heapSnapshot(join(dir, `${name}.heapsnapshot`));
  // The same wait before both samples: V8 shrinks what a burst grew (the young generation)
  // only after a quiet while, and a sample taken sooner counts that as the connections'.
  await new Promise((r) => setTimeout(r, Number(args.settle)));
  const before = (await snap('before')) as Record<string, number> | undefined;
  const rssBefore = readRss(server.pid);
  const errors = new ErrorLog();
  const opened = await connectAll(
    { url, durationMs: 0, concurrency: 200 },
    count,
    errors,
    protocols ? { protocols } : {},
  );
  const n = opened.sockets.length;
  await new Promise((r) => setTimeout(r, Number(args.settle)));
  const after = (await snap('after')) as Record<string, number> | undefined;
  const rssAfter = readRss(server.pid);
  await closeAll(opened.sockets);
  const per = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? 'n/a' : ((b - a) / n).toFixed(0);
  console.log(`${args.server ?? 'wirehub'} ${path}: ${n} idle connections (${errors.list.length} errors)`);
  console.log('per connection, bytes:');
  console.log(`  RSS            ${per(rssBefore.rss, rssAfter.rss)}`);
  console.log(`  RSS anonymous  ${per(rssBefore.anon, rssAfter.anon)}`);
  console.log(`  RSS malloc brk ${per(rssBefore.brk, rssAfter.brk)}`);
  for (const k of ['heapUsed', 'heapTotal', 'external', 'arrayBuffers'])
    console.log(`  ${k.padEnd(14)} ${per(before?.[k], after?.[k])}`);
  if (!args['rss-only']) census2(n);
} finally {
  await server.stop();
  if (args.keep) console.log(`snapshots kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

/** Prints the snapshots' difference per connection, by class and (with --shapes) by shape. */
function census2(n: number): void {
  const first = census(join(dir, 'before.heapsnapshot'));
  const a = first.groups;
  const shapes = new Map<string, { bytes: number; count: number }>();
  const b = census(
    join(dir, 'after.heapsnapshot'),
    args.shapes ? { known: first.ids, out: shapes } : undefined,
  ).groups;
  const rows: { key: string; bytes: number; count: number }[] = [];
  for (const [key, e] of b) {
    const old = a.get(key) ?? { bytes: 0, count: 0 };
    rows.push({ key, bytes: (e.bytes - old.bytes) / n, count: (e.count - old.count) / n });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  console.log(`heap snapshot difference: ${total.toFixed(0)} bytes per connection (self sizes)`);
  console.log('  bytes/conn  objs/conn  type  name');
  for (const r of rows.slice(0, Number(args.top))) {
    const [type, name] = r.key.split('\t');
    console.log(
      `  ${r.bytes.toFixed(0).padStart(10)}  ${r.count.toFixed(2).padStart(9)}  ${type}  ${name || '(all)'}`,
    );
  }
  if (args.shapes) {
    console.log('new objects and closures by property names:');
    const list = [...shapes].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, Number(args.top));
    for (const [shape, e] of list)
      console.log(
        `  ${(e.bytes / n).toFixed(0).padStart(10)}  ${(e.count / n).toFixed(2).padStart(9)}  ${shape}`,
      );
  }
}
