import { ApiError, explain, getJson, postJson } from './api.js';
import { byId, el, note } from './dom.js';

/** The admin pages, by the path they are served at. */
export const ADMIN_VIEWS = {
  '/admin/connections': 'connections',
  '/admin/channels': 'channels',
  '/admin/nodes': 'nodes',
} as const;

export type AdminView = (typeof ADMIN_VIEWS)[keyof typeof ADMIN_VIEWS];

interface Connection {
  node: string;
  id: string;
  endpoint: string;
  user?: string;
  remoteAddress: string;
  connectedAt: string;
  channels: string[];
  queuedBytes: number;
}

interface Channel {
  channel: string;
  subscribers: number;
  nodes: number;
  publicationRate: number;
  presence?: number;
  history?: { epoch: string; offset: number };
}

interface NodeInfo {
  node: string;
  startedAt: string;
  connections: number;
  channels: number;
}

/** How often an open admin page reads the admin API again (when "every 3 s" is ticked). */
const EVERY_MS = 3_000;

const TITLES: Record<AdminView, string> = {
  connections: 'Connections',
  channels: 'Channels',
  nodes: 'Nodes',
};

/** What a refused admin call means, in words for the person at the dashboard. */
export function explainAdmin(err: unknown): string {
  if (err instanceof ApiError) {
    const reason = (err.details as { reason?: string } | undefined)?.reason;
    if (err.status === 401) {
      return 'This server has auth on: paste a token (JWT or API key) with the admin grant above.';
    }
    if (err.status === 403 && reason !== 'loopback_only') {
      return `This token is refused here: the admin pages need the admin grant (${err.message}).`;
    }
  }
  return explain(err);
}

/** "3 min ago" for an ISO time, with the time itself as the title. */
function since(iso: string): HTMLTimeElement {
  const ms = Date.now() - Date.parse(iso);
  const s = Math.max(0, Math.floor(ms / 1000));
  const text = Number.isNaN(ms)
    ? iso
    : s < 60
      ? `${s} s ago`
      : s < 3600
        ? `${Math.floor(s / 60)} min ago`
        : s < 86_400
          ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`
          : `${Math.floor(s / 86_400)} d ago`;
  return el('time', { text, attrs: { datetime: iso, title: iso } });
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A table cell whose label shows in place of the header on narrow screens (`table.cards`). */
function cell(label: string, ...content: (Node | string)[]): HTMLTableCellElement {
  return el('td', { attrs: { 'data-label': label } }, ...content);
}

/** A cell of a number column (right-aligned). */
function num(label: string, value: string): HTMLTableCellElement {
  return el('td', { className: 'num', text: value, attrs: { 'data-label': label } });
}

/**
 * The admin pages (the `admin` grant): Connections (with Disconnect, one connection or every
 * connection of a user, with a chosen close code), Channels and Nodes, read from
 * `/api/admin/*` with the dashboard's token and refreshed every 3 s while shown. Every value
 * from the server goes in as text.
 */
export class AdminPages {
  private view: AdminView | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private reading: Promise<void> | undefined;
  private again = false;

  private readonly root = byId('view-admin');
  private readonly title = byId('admin-title');
  private readonly auto = byId<HTMLInputElement>('admin-auto');
  private readonly updated = byId('admin-updated');
  private readonly adminNote = byId('admin-note');
  private readonly result = byId('admin-result');
  private readonly userFilter = byId<HTMLInputElement>('conn-user');
  private readonly channelFilter = byId<HTMLInputElement>('conn-channel');
  private readonly closeCode = byId<HTMLSelectElement>('close-code');
  private readonly otherCode = byId<HTMLInputElement>('close-code-other');
  private readonly reason = byId<HTMLInputElement>('close-reason');
  private readonly disconnectUser = byId<HTMLInputElement>('disconnect-user');

  /**
   * @param token the dashboard's current token (read on every call: it may change)
   * @param navigate opens another page of the dashboard (a link to a filtered list)
   */
  constructor(
    private readonly token: () => string | undefined,
    private readonly navigate: (url: string) => void,
  ) {
    byId('admin-refresh').addEventListener('click', () => void this.refresh());
    this.auto.addEventListener('change', () => this.schedule());
    this.closeCode.addEventListener('change', () => {
      this.otherCode.hidden = this.closeCode.value !== 'other';
    });
    byId<HTMLFormElement>('conn-filter').addEventListener('submit', (e) => {
      e.preventDefault();
      const query = new URLSearchParams();
      const user = this.userFilter.value.trim();
      const channel = this.channelFilter.value.trim();
      if (user) query.set('user', user);
      if (channel) query.set('channel', channel);
      const search = query.toString();
      this.navigate(`/admin/connections${search ? `?${search}` : ''}`);
    });
    byId('conn-filter-clear').addEventListener('click', () => this.navigate('/admin/connections'));
    byId<HTMLFormElement>('disconnect-user-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const user = this.disconnectUser.value.trim();
      if (user) void this.disconnect({ user }, `user ${user}`);
    });
  }

  /** Shows one admin page (or none: `undefined`), and reads it at once. */
  show(view: AdminView | undefined): void {
    this.view = view;
    this.root.hidden = view === undefined;
    for (const section of this.root.querySelectorAll<HTMLElement>('section[data-view]')) {
      section.hidden = section.dataset.view !== view;
    }
    this.schedule();
    if (!view) return;
    this.title.textContent = TITLES[view];
    note(this.result, undefined);
    if (view === 'connections') {
      const query = new URLSearchParams(location.search);
      this.userFilter.value = query.get('user') ?? '';
      this.channelFilter.value = query.get('channel') ?? '';
    }
    void this.refresh();
  }

  /** The token changed: read again with the new one. */
  retry(): void {
    if (this.view) void this.refresh();
  }

  private schedule(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.view && this.auto.checked) {
      this.timer = setInterval(() => void this.refresh(), EVERY_MS);
    }
  }

  /**
   * Reads the page shown from the admin API and draws it. One read at a time: asked during a
   * read, it reads once more after it (a read that began before a disconnect is not the last).
   */
  refresh(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      try {
        do {
          this.again = false;
          await this.readOnce();
        } while (this.again);
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private async readOnce(): Promise<void> {
    const view = this.view;
    if (!view) return;
    try {
      let missing: string[];
      if (view === 'connections') missing = await this.readConnections();
      else if (view === 'channels') missing = await this.readChannels();
      else missing = await this.readNodes();
      this.root.dataset.loaded = view;
      this.updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      note(
        this.adminNote,
        missing.length > 0
          ? `${missing.length} node(s) did not answer in time, their part is missing: ${missing.join(', ')}`
          : undefined,
      );
    } catch (err) {
      note(this.adminNote, explainAdmin(err));
    }
  }

  private async readConnections(): Promise<string[]> {
    const query = new URLSearchParams(location.search);
    const filter = new URLSearchParams();
    for (const name of ['user', 'channel']) {
      const value = query.get(name);
      if (value) filter.set(name, value);
    }
    const search = filter.toString();
    const { connections, missing } = await getJson<{ connections: Connection[]; missing: string[] }>(
      `/api/admin/connections${search ? `?${search}` : ''}`,
      this.token(),
    );
    const rows = connections.map((c) => {
      const button = el('button', {
        className: 'danger',
        text: 'Disconnect',
        attrs: { type: 'button', title: `disconnect ${c.id}` },
      });
      button.addEventListener('click', () => {
        button.disabled = true;
        void this.disconnect({ client: c.id }, `connection ${c.id}`);
      });
      const channels = c.channels.flatMap((name, i) => [
        ...(i > 0 ? [', '] : []),
        this.link(`/admin/connections?channel=${encodeURIComponent(name)}`, name),
      ]);
      return el(
        'tr',
        { attrs: { 'data-id': c.id, 'data-endpoint': c.endpoint, 'data-user': c.user ?? '' } },
        cell('id', el('code', { text: c.id.slice(0, 8), attrs: { title: c.id } })),
        cell('endpoint', c.endpoint),
        cell(
          'user',
          c.user ? this.link(`/admin/connections?user=${encodeURIComponent(c.user)}`, c.user) : '–',
        ),
        cell('remote address', c.remoteAddress),
        cell('since', since(c.connectedAt)),
        cell('channels', ...(channels.length > 0 ? channels : ['–'])),
        num('queued', bytes(c.queuedBytes)),
        cell('node', el('code', { text: c.node.slice(0, 8), attrs: { title: c.node } })),
        cell('', button),
      );
    });
    byId('conn-rows').replaceChildren(...rows);
    const filtered = search ? ` matching ${[...filter].map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
    byId('conn-summary').textContent = `${connections.length} connection(s)${filtered}`;
    return missing;
  }

  private async readChannels(): Promise<string[]> {
    const { channels, missing } = await getJson<{ channels: Channel[]; missing: string[] }>(
      '/api/admin/channels',
      this.token(),
    );
    const rows = channels.map((c) =>
      el(
        'tr',
        { attrs: { 'data-channel': c.channel } },
        cell('channel', this.link(`/admin/connections?channel=${encodeURIComponent(c.channel)}`, c.channel)),
        num('subscribers', String(c.subscribers)),
        num('nodes', String(c.nodes)),
        num('publications/s', String(c.publicationRate)),
        cell(
          'history',
          c.history
            ? el('span', { text: `offset ${c.history.offset}`, attrs: { title: `epoch ${c.history.epoch}` } })
            : '–',
        ),
        num('presence', c.presence === undefined ? '–' : String(c.presence)),
      ),
    );
    byId('chan-rows').replaceChildren(...rows);
    byId('chan-summary').textContent = `${channels.length} channel(s) with subscribers`;
    return missing;
  }

  private async readNodes(): Promise<string[]> {
    const { nodes, missing } = await getJson<{ nodes: NodeInfo[]; missing: string[] }>(
      '/api/admin/nodes',
      this.token(),
    );
    const rows = nodes.map((n) =>
      el(
        'tr',
        { attrs: { 'data-node': n.node } },
        cell('node', el('code', { text: n.node })),
        cell('started', since(n.startedAt)),
        num('connections', String(n.connections)),
        num('channels', String(n.channels)),
      ),
    );
    byId('node-rows').replaceChildren(...rows);
    byId('node-summary').textContent = `${nodes.length} node(s)`;
    return missing;
  }

  /** A link to another dashboard page, opened in place. */
  private link(url: string, text: string): HTMLAnchorElement {
    const a = el('a', { text, attrs: { href: url } });
    a.addEventListener('click', (e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      this.navigate(url);
    });
    return a;
  }

  /** The close code chosen, or an explanation of why it is not one. */
  private chosenCode(): number | string {
    if (this.closeCode.value !== 'other') return Number(this.closeCode.value);
    const code = Number(this.otherCode.value);
    return Number.isInteger(code) && code >= 4000 && code <= 4999
      ? code
      : 'pick a close code from 4000 to 4999';
  }

  private async disconnect(target: { client: string } | { user: string }, what: string): Promise<void> {
    const code = this.chosenCode();
    if (typeof code === 'string') {
      note(this.adminNote, code);
      return;
    }
    const reason = this.reason.value.trim();
    note(this.result, undefined);
    try {
      const { disconnected, missing } = await postJson<{ disconnected: number; missing: string[] }>(
        '/api/admin/disconnect',
        this.token(),
        { ...target, code, ...(reason ? { reason } : {}) },
      );
      const lost = missing.length > 0 ? ` (${missing.length} node(s) did not answer)` : '';
      note(this.result, `${what}: ${disconnected} connection(s) closed with code ${code}${lost}`);
      note(this.adminNote, undefined);
    } catch (err) {
      note(this.adminNote, explainAdmin(err));
    }
    await this.refresh();
  }
}
