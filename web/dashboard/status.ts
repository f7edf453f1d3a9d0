import type { WirehubClient } from '../../src/client/index.js';
import { explain, getJson } from './api.js';
import { byId, el, note } from './dom.js';

interface EndpointStatus {
  connections: number;
  messages_in: number;
  messages_out: number;
}

interface ServerStatus {
  status: string;
  uptime_ms: number;
  auth: boolean;
  connections: number;
  endpoints: Record<string, EndpointStatus>;
}

/** How often the panel reads `/api/status`. */
const EVERY_MS = 2_000;

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The status panel: connections and message counts per endpoint, from `GET /api/status`. */
export class StatusPanel {
  private timer: ReturnType<typeof setInterval> | undefined;
  private client: WirehubClient | undefined;
  private token: string | undefined;

  private readonly connections = byId('status-connections');
  private readonly messages = byId('status-messages');
  private readonly uptime = byId('status-uptime');
  private readonly auth = byId('status-auth');
  private readonly rtt = byId('status-rtt');
  private readonly table = byId('status-endpoints');
  private readonly statusNote = byId('status-note');

  start(client: WirehubClient | undefined, token: string | undefined): void {
    this.stop();
    this.client = client;
    this.token = token;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), EVERY_MS);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the status once (also used at start to learn whether auth is on). */
  static read(token: string | undefined): Promise<ServerStatus> {
    return getJson<ServerStatus>('/api/status', token);
  }

  private async tick(): Promise<void> {
    const client = this.client;
    if (client?.isConnected) {
      client.ping().then(
        (ms) => {
          this.rtt.textContent = `${ms} ms`;
        },
        () => {
          this.rtt.textContent = '–';
        },
      );
    }
    try {
      this.render(await StatusPanel.read(this.token));
      note(this.statusNote, undefined);
    } catch (err) {
      note(this.statusNote, explain(err));
    }
  }

  private render(s: ServerStatus): void {
    let inTotal = 0;
    let outTotal = 0;
    const rows = Object.entries(s.endpoints)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, e]) => {
        inTotal += e.messages_in;
        outTotal += e.messages_out;
        return el(
          'tr',
          { attrs: { 'data-endpoint': name } },
          el('td', { text: name }),
          el('td', { text: String(e.connections) }),
          el('td', { text: String(e.messages_in) }),
          el('td', { text: String(e.messages_out) }),
        );
      });
    this.table.replaceChildren(...rows);
    this.connections.textContent = String(s.connections);
    this.messages.textContent = `${inTotal} / ${outTotal}`;
    this.uptime.textContent = `${duration(s.uptime_ms)}${s.status === 'draining' ? ' (draining)' : ''}`;
    this.auth.textContent = s.auth ? 'on' : 'off (anyone on this machine can connect)';
  }
}
