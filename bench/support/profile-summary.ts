/** The parts of a V8 `.cpuprofile` (as written by `node --cpu-prof`) that the summary reads. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string, line: number): string {
  if (url === '') return '';
  const short = url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, '')
    .replace(/.*\/(dist|src)\//, '$1/');
  return `${short}:${line + 1}`;
}

/**
 * Self time per function and per module of a CPU profile, as text: where the time of a
 * scenario goes. Idle time and the profiler's own stop command are left out.
 */
export function summarizeProfile(profile: CpuProfile, top = 20): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // The profiler's own stop command (node:inspector and below) is not the server's work.
  const excluded = new Set<number>();
  const exclude = (id: number) => {
    excluded.add(id);
    for (const c of byId.get(id)?.children ?? []) exclude(c);
  };
  for (const n of profile.nodes) if (n.callFrame.url === 'node:inspector') exclude(n.id);
  const self = new Map<string, number>();
  const byModule = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)' || excluded.has(id)) return;
    busy += dt;
    const cf = node.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${where(cf.url, cf.lineNumber)}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    const mod = cf.url === '' ? cf.functionName : (where(cf.url, 0).split(/[/:]/)[0] ?? 'other');
    const moduleKey = cf.url.includes('node:') || cf.url.startsWith('node:') ? 'node internals' : mod;
    byModule.set(moduleKey, (byModule.get(moduleKey) ?? 0) + dt);
  });
  const pct = (v: number) => `${((100 * v) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `  ${pct(v)}  ${k}`);
  return [
    `busy ${(busy / 1000).toFixed(0)} ms; self time by function:`,
    ...list(self, top),
    'self time by module:',
    ...list(byModule, 12),
  ].join('\n');
}
