import type { Publication, Subscription, WirehubClient } from '../../src/client/index.js';
import { asText, byId, el, note } from './dom.js';

/** Messages shown when joining a room (read from the channel's history). */
const RECENT = 50;
/** Messages kept in the log. */
const KEEP = 500;

/**
 * The chat panel: a room is channel `chat:<room>`, the same one `/chat/<room>` clients talk
 * on, so both see each other's messages. Shows recent history, live messages, and who is in
 * the room (presence, refreshed on every join/leave).
 */
export class ChatPanel {
  private client: WirehubClient | undefined;
  private sub: Subscription | undefined;
  private channel = '';
  private readonly mine = new Set<number>();
  private readonly rows = new Map<number, HTMLLIElement>();
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;
  private joining: Promise<void> = Promise.resolve();

  private readonly log = byId<HTMLOListElement>('chat-log');
  private readonly members = byId<HTMLUListElement>('chat-members');
  private readonly count = byId('chat-count');
  private readonly roomInput = byId<HTMLInputElement>('chat-room');
  private readonly input = byId<HTMLInputElement>('chat-input');
  private readonly label = byId('chat-channel');
  private readonly chatNote = byId('chat-note');

  constructor() {
    byId<HTMLFormElement>('chat-room-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.join(this.roomInput.value.trim());
    });
    byId<HTMLFormElement>('chat-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send();
    });
  }

  /** Starts on a (new) client, in the room typed in. */
  attach(client: WirehubClient): void {
    this.client = client;
    client.on('recovery', (info) => {
      if (info.channel === this.channel) this.refreshPresenceSoon();
    });
    this.join(this.roomInput.value.trim());
  }

  /** The client is going away: forget it (its close ends the subscription). */
  detach(): void {
    this.client = undefined;
    this.sub = undefined;
    this.channel = '';
  }

  private join(room: string): void {
    this.joining = this.joining.then(() => this.switchTo(room)).catch((err: unknown) => this.fail(err));
  }

  private async switchTo(room: string): Promise<void> {
    const client = this.client;
    if (!client) return;
    const channel = `chat:${room}`;
    if (channel === this.channel && this.sub) return;
    await this.sub?.unsubscribe();
    this.sub = undefined;
    this.channel = channel;
    this.label.textContent = channel;
    this.log.replaceChildren();
    this.rows.clear();
    this.mine.clear();
    note(this.chatNote, undefined);
    // Recent history first, then live from exactly where it ended (the subscribe replays any gap).
    const recent = await client.history(channel, { limit: RECENT });
    for (const pub of recent.publications) this.show(pub);
    this.sub = await client.subscribe(channel, (pub) => this.show(pub), {
      since: { epoch: recent.epoch, offset: recent.offset },
      onJoin: () => this.refreshPresenceSoon(),
      onLeave: () => this.refreshPresenceSoon(),
      onRecovery: (info) => {
        if (!info.recovered) {
          this.system('some messages were missed while disconnected');
        }
      },
    });
    await this.refreshPresence();
  }

  private async send(): Promise<void> {
    const client = this.client;
    const text = this.input.value;
    if (!client || !this.channel || text.trim() === '') return;
    this.input.value = '';
    try {
      const { offset } = await client.publish(this.channel, text);
      if (offset !== undefined) {
        this.mine.add(offset);
        this.rows.get(offset)?.classList.add('mine');
      }
    } catch (err) {
      this.input.value = text;
      this.fail(err);
    }
  }

  private show(pub: Publication): void {
    const from = pub.from;
    const who = from?.user ?? (from ? from.client.slice(0, 8) : 'server');
    const time = el('time', { text: new Date().toLocaleTimeString() });
    const row = el('li', {}, time, el('span', { className: 'who', text: who }), asText(pub.data));
    if (pub.offset !== undefined) {
      row.dataset.offset = String(pub.offset);
      this.rows.set(pub.offset, row);
      if (this.mine.has(pub.offset)) row.classList.add('mine');
    }
    this.append(row);
  }

  private system(text: string): void {
    this.append(el('li', { className: 'system', text }));
  }

  private append(row: HTMLLIElement): void {
    const atBottom = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 8;
    this.log.append(row);
    while (this.log.childElementCount > KEEP) {
      const first = this.log.firstElementChild as HTMLLIElement | null;
      const offset = Number(first?.dataset.offset);
      if (!Number.isNaN(offset)) this.rows.delete(offset);
      first?.remove();
    }
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  /** Join/leave pushes come in bursts: one presence read per burst. */
  private refreshPresenceSoon(): void {
    if (this.presenceTimer !== undefined) return;
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = undefined;
      void this.refreshPresence().catch((err: unknown) => this.fail(err));
    }, 100);
  }

  private async refreshPresence(): Promise<void> {
    const client = this.client;
    if (!client || !this.channel) return;
    const members = await client.presence(this.channel);
    this.members.replaceChildren(
      ...members.map((m) => el('li', { text: m.user ?? m.client, attrs: { title: m.client } })),
    );
    this.count.textContent = `(${members.length})`;
  }

  private fail(err: unknown): void {
    const e = err as { code?: string; message?: string };
    note(this.chatNote, e.code ? `${e.code}: ${e.message}` : String(err));
  }
}
