/**
 * The dashboard served at `/`: chat, the live stream chart, tasks and server status, on
 * the client SDK (`/assets/wirehub-client.js`). With auth on it asks for a token first and
 * says so, instead of failing silently.
 */
import { type ConnectionState, WirehubClient } from '../../src/client/index.js';
import { ADMIN_VIEWS, AdminPages } from './admin.js';
import { ApiError, explain } from './api.js';
import { ChatPanel } from './chat.js';
import { byId, note } from './dom.js';
import { StatusPanel } from './status.js';
import { StreamPanel } from './stream.js';
import { TasksPanel } from './tasks.js';

const TOKEN_KEY = 'wirehub.token';

const chat = new ChatPanel();
const stream = new StreamPanel();
const tasks = new TasksPanel();
const status = new StatusPanel();
const admin = new AdminPages(
  () => token,
  (url) => navigate(url),
);
const badge = byId('conn-state');
const authNote = byId('auth-note');
const tokenInput = byId<HTMLInputElement>('token');

let token: string | undefined = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
let client: WirehubClient | undefined;

function showState(state: ConnectionState | 'needs token' | 'this machine only', detail?: string): void {
  badge.textContent = detail ? `${state}: ${detail}` : state;
  badge.className = `badge ${state.replace(' ', '-')}`;
}

async function stop(): Promise<void> {
  stream.stop();
  status.stop();
  chat.detach();
  tasks.detach();
  const old = client;
  client = undefined;
  await old?.close();
}

async function start(): Promise<void> {
  await stop();
  note(authNote, undefined);
  // Ask the HTTP API first: a browser cannot see why a WebSocket upgrade was refused, but
  // a 401 here says that auth is on and a token is needed.
  try {
    await StatusPanel.read(token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showState('needs token');
      note(
        authNote,
        token
          ? `The server refused this token (${err.message}). Paste a valid JWT or API key above.`
          : 'This server has auth on: paste a token (JWT or API key) above to connect.',
      );
      status.start(undefined, token);
      return;
    }
    note(authNote, explain(err));
    // With auth off, a page opened from another machine gets only the plain endpoints: /rt
    // and the API answer this machine only, so only the /stream chart can work.
    if (
      err instanceof ApiError &&
      (err.details as { reason?: string } | undefined)?.reason === 'loopback_only'
    ) {
      showState('this machine only');
      stream.start(token);
      return;
    }
  }
  const c = new WirehubClient({ token: () => token });
  client = c;
  c.on('state', (state) => showState(state));
  c.on('disconnected', ({ code, reconnectInMs }) =>
    showState('reconnecting', `${code}, retry in ${reconnectInMs} ms`),
  );
  c.on('closed', ({ error }) => {
    if (error) showState('closed', `${error.code}: ${error.message}`);
  });
  c.on('error', (error) => console.warn('wirehub:', error.code, error.message, error.details ?? ''));
  showState('connecting');
  void c.connect().catch(() => {});
  chat.attach(c);
  void tasks.attach(c, token);
  stream.start(token);
  status.start(c, token);
}

byId<HTMLFormElement>('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token = tokenInput.value.trim() || undefined;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  tokenInput.value = '';
  tokenInput.placeholder = token
    ? 'token set (paste another to replace)'
    : 'JWT or API key (only when auth is on)';
  void start();
  admin.retry();
});

byId('token-clear').addEventListener('click', () => {
  token = undefined;
  sessionStorage.removeItem(TOKEN_KEY);
  tokenInput.value = '';
  tokenInput.placeholder = 'JWT or API key (only when auth is on)';
  void start();
  admin.retry();
});

/**
 * The page for the current path: the dashboard (`/`) or an admin page (`/admin/…`). Links
 * between them change the path without reloading, so the dashboard's connection stays up.
 */
function route(): void {
  const adminView = Object.hasOwn(ADMIN_VIEWS, location.pathname)
    ? ADMIN_VIEWS[location.pathname as keyof typeof ADMIN_VIEWS]
    : undefined;
  const view = adminView ?? 'home';
  byId('view-home').hidden = view !== 'home';
  for (const link of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = adminView ? `${adminView[0]?.toUpperCase()}${adminView.slice(1)} · wirehub` : 'wirehub';
  document.body.dataset.view = view;
  admin.show(adminView);
}

function navigate(url: string): void {
  if (url !== `${location.pathname}${location.search}`) history.pushState(null, '', url);
  route();
}

for (const link of document.querySelectorAll<HTMLAnchorElement>('a[data-view]')) {
  link.addEventListener('click', (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(link.getAttribute('href') ?? '/');
  });
}
window.addEventListener('popstate', route);
route();

if (token) tokenInput.placeholder = 'token set (paste another to replace)';
void start();
