import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { weakenVersionRequirement } from '../../bench/support/elf-weaken-version.js';
import { summarizeProfile } from '../../bench/support/profile-summary.js';
import { SourceAddresses } from '../../src/cli/bench/connect.js';
import { parseChannel, parseCount, parseWsUrl } from '../../src/cli/bench/flags.js';
import { LatencyRecorder } from '../../src/cli/bench/latency.js';
import { readProcSample, ServerProbe } from '../../src/cli/bench/proc-stats.js';
import { renderTable } from '../../src/cli/bench/report.js';

describe('bench flags', () => {
  it('parses counts with k/m suffixes within bounds', () => {
    expect(parseCount(1, 100_000)('5000')).toBe(5000);
    expect(parseCount(1, 100_000)('10k')).toBe(10_000);
    expect(parseCount(0, 2e6)('2m')).toBe(2_000_000);
    expect(() => parseCount(1, 10)('0')).toThrow(InvalidArgumentError);
    expect(() => parseCount(1, 10)('11')).toThrow(/from 1 to 10/);
    expect(() => parseCount(1, 10)('3.5')).toThrow(InvalidArgumentError);
    expect(() => parseCount(1, 10)('-1')).toThrow(InvalidArgumentError);
  });

  it('takes ws:// and wss:// URLs only', () => {
    expect(parseWsUrl('ws://127.0.0.1:8080/echo')).toBe('ws://127.0.0.1:8080/echo');
    expect(parseWsUrl('wss://example.test/rt')).toBe('wss://example.test/rt');
    // The http(s) form of the same server, as `wirehub connect --url` takes it.
    expect(parseWsUrl('http://127.0.0.1:8080/echo')).toBe('ws://127.0.0.1:8080/echo');
    expect(parseWsUrl('https://example.test/rt')).toBe('wss://example.test/rt');
    // No path: the scenario's endpoint.
    expect(parseWsUrl('http://127.0.0.1:8080', '/broadcast')).toBe('ws://127.0.0.1:8080/broadcast');
    expect(parseWsUrl('ws://127.0.0.1:8080/', '/echo')).toBe('ws://127.0.0.1:8080/echo');
    expect(() => parseWsUrl('ftp://127.0.0.1/echo')).toThrow(/ws:\/\/, wss:\/\/, http:\/\/ or https:\/\//);
    expect(() => parseWsUrl('not a url')).toThrow(/expected a URL/);
  });

  it('checks channel names', () => {
    expect(parseChannel('chat:lobby')).toBe('chat:lobby');
    expect(parseChannel('broadcast')).toBe('broadcast');
    expect(parseChannel('run:a=1@b:c')).toBe('run:a=1@b:c');
    expect(() => parseChannel('')).toThrow(InvalidArgumentError);
    expect(() => parseChannel(':x')).toThrow(InvalidArgumentError);
    expect(() => parseChannel(`ns:${'x'.repeat(200)}`)).toThrow(InvalidArgumentError);
    expect(() => parseChannel('a b')).toThrow(InvalidArgumentError);
  });
});

describe('SourceAddresses', () => {
  it('spreads a loopback target over 127.0.0.x once one address would run out', () => {
    const s = new SourceAddresses('ws://127.0.0.1:8080/echo', 5, 2);
    expect([0, 1, 2, 3, 4].map((i) => s.for(i))).toEqual([
      '127.0.0.1',
      '127.0.0.1',
      '127.0.0.2',
      '127.0.0.2',
      '127.0.0.3',
    ]);
    expect(s.addressesFor(5)).toBe(3);
  });

  it('leaves small runs and non-loopback targets to the kernel', () => {
    expect(new SourceAddresses('ws://127.0.0.1:8080/echo', 2, 2).for(1)).toBeUndefined();
    expect(new SourceAddresses('ws://example.test/echo', 10, 2).for(5)).toBeUndefined();
    expect(new SourceAddresses('ws://[::1]:8080/echo', 10, 2).for(5)).toBeUndefined();
  });
});

describe('LatencyRecorder', () => {
  it('reports percentiles in ms at microsecond resolution', () => {
    const r = new LatencyRecorder();
    for (let i = 1; i <= 100; i += 1) r.record(i);
    const s = r.summary();
    expect(s.count).toBe(100);
    expect(s.p50).toBeCloseTo(50, 0);
    expect(s.p99).toBeCloseTo(99, 0);
    expect(s.max).toBeCloseTo(100, 0);
    r.reset();
    expect(r.summary()).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  });
});

describe('proc stats', () => {
  it('reads CPU time and RSS of a process from /proc, in agreement with getrusage', () => {
    const probe = new ServerProbe(process.pid);
    probe.begin();
    const before = readProcSample(process.pid);
    const rusage0 = process.cpuUsage();
    // Spin until the kernel has charged us 150 ms of CPU (however busy the machine is).
    const giveUp = performance.now() + 10_000;
    let spent = 0;
    while (spent < 150_000 && performance.now() < giveUp) {
      const d = process.cpuUsage(rusage0);
      spent = d.user + d.system;
    }
    const usage = probe.end(1000);
    expect(before.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(spent).toBeGreaterThanOrEqual(150_000);
    // /proc counts in clock ticks (10 ms): allow a few ticks either side.
    expect(usage.cpuMs).toBeGreaterThanOrEqual(spent / 1000 - 30);
    expect(usage.cpuMs).toBeLessThanOrEqual(spent / 1000 + 60);
    expect(usage.cpuUsPerMessage).toBeCloseTo(usage.cpuMs, 3);
    expect(usage.cpuCores).toBeGreaterThan(0);
    expect(usage.rssEndBytes).toBeGreaterThan(0);
  });

  it('counts write syscalls exactly', () => {
    const fd = openSync('/dev/null', 'w');
    const probe = new ServerProbe(process.pid);
    probe.begin();
    for (let i = 0; i < 500; i += 1) writeSync(fd, 'x');
    const usage = probe.end(500);
    closeSync(fd);
    // 500 of ours, plus whatever else the process wrote meanwhile (very little).
    expect(usage.writesPerMessage).toBeGreaterThanOrEqual(1);
    expect(usage.writesPerMessage).toBeLessThan(1.2);
  });

  it('fails early on a pid that does not exist', () => {
    expect(() => new ServerProbe(2 ** 22 + 1)).toThrow(/ENOENT/);
  });
});

describe('report table', () => {
  it('shows results, latency and server usage', () => {
    const text = renderTable({
      scenario: 'fanout',
      url: 'ws://127.0.0.1:1/broadcast',
      driver: 'ws',
      startedAt: '2026-01-01T00:00:00.000Z',
      windowMs: 1500,
      params: { subscribers: 10 },
      results: { deliveriesPerSec: 12345.6, lost: 0 },
      latencyMs: { count: 3, mean: 1, p50: 1.5, p90: 2, p99: 3.25, max: 4 },
      server: {
        pid: 1,
        cpuMs: 20,
        systemShare: 0.25,
        cpuUsPerMessage: 2.5,
        writesPerMessage: 0.5,
        cpuCores: 0.4,
        rssStartBytes: 2 ** 20,
        rssEndBytes: 2 ** 21,
      },
      errors: ['server closed a subscriber with 4008'],
    });
    expect(text).toContain('wirehub bench fanout  ws://127.0.0.1:1/broadcast  (ws)');
    expect(text).toMatch(/deliveries per sec\s+12,346/);
    expect(text).toMatch(/lost\s+0/);
    expect(text).toMatch(/publish→receive ms\s+p50 1\.5 {2}p90 2 {2}p99 3\.25 {2}max 4/);
    expect(text).toMatch(/server cpu µs per message\s+2\.5/);
    expect(text).toMatch(/server cpu ms\s+20 \(25% in the kernel\)/);
    expect(text).toMatch(/server write syscalls per message\s+0\.5/);
    expect(text).toMatch(/server rss MiB \(start → end\)\s+1\.0 → 2\.0/);
    expect(text).toContain('error: server closed a subscriber with 4008');
  });
});

describe('weakenVersionRequirement (uWebSockets.js baseline loader)', () => {
  it('marks one glibc version requirement weak and leaves a loadable object', () => {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('bufferutil/package.json'));
    const original = join(dir, 'prebuilds/linux-x64/bufferutil.node');
    const out = join(mkdtempSync(join(tmpdir(), 'wirehub-elf-')), 'patched.node');
    expect(weakenVersionRequirement(original, out, 'GLIBC_2.2.5')).toBe(1);
    const a = readFileSync(original);
    const b = readFileSync(out);
    const changed = [...a.keys()].filter((i) => a[i] !== b[i]);
    expect(changed).toHaveLength(1);
    expect(((b[changed[0] as number] as number) & 0x2) !== 0).toBe(true);
    expect(weakenVersionRequirement(original, out, 'GLIBC_9.99')).toBe(0);
    const loaded = execFileSync(process.execPath, [
      '-e',
      'const m = { exports: {} }; process.dlopen(m, process.argv[1]); console.log(typeof m.exports.mask)',
      join(dirname(out), 'patched.node'),
    ]);
    expect(loaded.toString().trim()).toBe('function');
  });

  it('refuses a file that is not ELF64', () => {
    const notElf = new URL('../../package.json', import.meta.url).pathname;
    expect(() => weakenVersionRequirement(notElf, join(tmpdir(), 'x.node'), 'GLIBC_2.38')).toThrow(
      /not a little-endian ELF64/,
    );
  });
});

describe('summarizeProfile', () => {
  it('ranks functions and modules by self time, leaving idle out', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });
    const text = summarizeProfile({
      nodes: [
        { id: 1, callFrame: frame('(root)', '') },
        { id: 2, callFrame: frame('(idle)', '') },
        { id: 3, callFrame: frame('deliver', 'file:///x/dist/hub/hub.js') },
        { id: 4, callFrame: frame('writeGeneric', 'node:internal/stream_base_commons') },
      ],
      samples: [2, 3, 3, 3, 4],
      timeDeltas: [5000, 1000, 1000, 1000, 1000],
    });
    expect(text).toMatch(/^busy 4 ms/);
    expect(text).toMatch(/75\.0% {2}deliver dist\/hub\/hub\.js:10/);
    expect(text).toMatch(/25\.0% {2}writeGeneric node:internal\/stream_base_commons:10/);
    expect(text).not.toContain('(idle)');
  });
});
