import type { LatencySummary } from './latency.js';
import type { ServerUsage } from './proc-stats.js';

export type ScenarioName = 'echo' | 'fanout' | 'connections' | 'churn';

/** What every scenario returns and `--json` prints. */
export interface BenchReport<R extends object = Record<string, number>> {
  scenario: ScenarioName;
  url: string;
  /** The client driver (`ws`, `socket.io`, …). */
  driver: string;
  startedAt: string;
  /** Length of the measured window (after warm-up), in ms. */
  windowMs: number;
  /** The parameters the run used, after defaults and `--smoke`. */
  params: Record<string, string | number | boolean>;
  results: R;
  /** Echo: round trip; fanout: publish to receive; connections/churn: handshake. */
  latencyMs: LatencySummary;
  /** Present when the server's pid was given (`--server-pid`). */
  server?: ServerUsage;
  /** First distinct errors seen (connect failures, unexpected replies, …). */
  errors: string[];
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });

function format(value: number): string {
  return Number.isInteger(value) || Math.abs(value) >= 1000 ? integer.format(value) : decimal.format(value);
}

/** Splits `deliveriesPerSec` into `deliveries per sec` for the table. */
function label(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/** The report as an aligned two-column text table. */
export function renderTable(report: BenchReport<object>): string {
  const rows: [string, string][] = [];
  for (const [key, value] of Object.entries(report.results)) {
    if (typeof value === 'number') rows.push([label(key), format(value)]);
  }
  const l = report.latencyMs;
  if (l.count > 0) {
    const what = {
      echo: 'round trip',
      fanout: 'publish→receive',
      connections: 'handshake',
      churn: 'handshake',
    }[report.scenario];
    rows.push([
      `${what} ms`,
      `p50 ${format(l.p50)}  p90 ${format(l.p90)}  p99 ${format(l.p99)}  max ${format(l.max)}`,
    ]);
  }
  const s = report.server;
  if (s) {
    rows.push(['server cpu ms', `${format(s.cpuMs)} (${Math.round(s.systemShare * 100)}% in the kernel)`]);
    rows.push(['server cpu µs per message', format(s.cpuUsPerMessage)]);
    rows.push(['server cpu cores', format(s.cpuCores)]);
    if (Number.isFinite(s.writesPerMessage))
      rows.push(['server write syscalls per message', format(s.writesPerMessage)]);
    rows.push(['server rss MiB (start → end)', `${mib(s.rssStartBytes)} → ${mib(s.rssEndBytes)}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  const params = Object.entries(report.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const lines = [
    `wirehub bench ${report.scenario}  ${report.url}  (${report.driver})`,
    `  ${params}`,
    `  window ${format(report.windowMs / 1000)} s`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ];
  for (const e of report.errors) lines.push(`  error: ${e}`);
  return `${lines.join('\n')}\n`;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
