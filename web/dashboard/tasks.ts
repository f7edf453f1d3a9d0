import type { RunEvent, RunHandle, WirehubClient } from '../../src/client/index.js';
import { explain, getJson } from './api.js';
import { asText, byId, el, note } from './dom.js';
import { buildForm, type FormReader, type JsonSchema } from './schema-form.js';

interface TaskSummary {
  project: string;
  domain: string;
  name: string;
  version: string;
  ref: string;
  description?: string;
  inputs: JsonSchema;
}

/** Run cards kept in the list. */
const KEEP = 20;

/**
 * The tasks panel: the server's tasks (`GET /api/tasks`), a form made from the chosen task's
 * input schema (or raw JSON), and a card per launched run with its live status, progress,
 * message, outputs or error, a Cancel button and a link to the run page.
 */
export class TasksPanel {
  private client: WirehubClient | undefined;
  private tasks: TaskSummary[] = [];
  private read: FormReader = () => ({});

  private readonly select = byId<HTMLSelectElement>('task-select');
  private readonly description = byId('task-description');
  private readonly fields = byId('task-fields');
  private readonly json = byId<HTMLTextAreaElement>('task-json');
  private readonly error = byId('task-error');
  private readonly launchButton = byId<HTMLButtonElement>('task-launch');
  private readonly runs = byId<HTMLOListElement>('runs');

  constructor() {
    this.select.addEventListener('change', () => this.chooseTask());
    byId<HTMLFormElement>('task-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.launch();
    });
  }

  async attach(client: WirehubClient, token: string | undefined): Promise<void> {
    this.client = client;
    note(this.error, undefined);
    try {
      const { tasks } = await getJson<{ tasks: TaskSummary[] }>('/api/tasks', token);
      this.tasks = tasks;
    } catch (err) {
      this.tasks = [];
      note(this.error, `Cannot list tasks. ${explain(err)}`);
    }
    const previous = this.select.value;
    this.select.replaceChildren(
      ...this.tasks.map((t) => el('option', { text: t.ref, attrs: { value: t.ref } })),
    );
    if (this.tasks.some((t) => t.ref === previous)) this.select.value = previous;
    this.launchButton.disabled = this.tasks.length === 0;
    this.chooseTask();
  }

  detach(): void {
    this.client = undefined;
  }

  private chooseTask(): void {
    const task = this.tasks.find((t) => t.ref === this.select.value);
    this.description.textContent = task?.description ?? '';
    this.read = task ? buildForm(this.fields, task.inputs) : () => ({});
    if (!task) this.fields.replaceChildren();
  }

  private inputs(): Record<string, unknown> {
    const raw = this.json.value.trim();
    if (raw === '') return this.read();
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Error('Inputs as JSON: not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('Inputs as JSON: must be a JSON object');
    }
    return parsed as Record<string, unknown>;
  }

  private async launch(): Promise<void> {
    const client = this.client;
    const task = this.tasks.find((t) => t.ref === this.select.value);
    if (!client || !task) return;
    note(this.error, undefined);
    let inputs: Record<string, unknown>;
    try {
      inputs = this.inputs();
    } catch (err) {
      note(this.error, (err as Error).message);
      return;
    }
    this.launchButton.disabled = true;
    try {
      const run = await client.runTask({
        project: task.project,
        domain: task.domain,
        task: task.name,
        version: task.version,
        inputs,
      });
      void this.follow(run, task.ref);
    } catch (err) {
      note(this.error, describeError(err));
    } finally {
      this.launchButton.disabled = false;
    }
  }

  /** A card for the run, updated with every update until it ends. */
  private async follow(run: RunHandle, ref: string): Promise<void> {
    const status = el('span', { className: 'status', text: '…' });
    const message = el('span', { className: 'message' });
    const progress = el('progress', { attrs: { max: '100' } });
    const cancel = el('button', { className: 'cancel', text: 'Cancel', attrs: { type: 'button' } });
    const link = el('a', {
      text: 'run page',
      attrs: { href: run.url ?? `/runs/${run.id}`, target: '_blank' },
    });
    const detail = el('pre', { className: 'detail' });
    detail.hidden = true;
    const card = el(
      'li',
      { attrs: { 'data-run': run.id } },
      el('div', { className: 'row' }, status, el('code', { text: ref }), link, cancel),
      progress,
      message,
      detail,
    );
    this.runs.prepend(card);
    while (this.runs.childElementCount > KEEP) this.runs.lastElementChild?.remove();
    cancel.addEventListener('click', () => {
      cancel.disabled = true;
      run.cancel().catch((err: unknown) => {
        message.textContent = describeError(err);
      });
    });
    const show = (u: RunEvent) => {
      status.textContent = u.status;
      status.className = `status ${u.status}`;
      if (u.message !== undefined) message.textContent = u.message;
      if (u.progress !== undefined) progress.value = u.progress;
      card.dataset.status = u.status;
    };
    try {
      for await (const update of run) show(update);
      const outcome = await run.result;
      if (outcome.status === 'SUCCEEDED') progress.value = 100;
      const shown = outcome.outputs !== undefined ? outcome.outputs : outcome.error;
      if (shown !== undefined) {
        detail.textContent = outcome.outputs !== undefined ? JSON.stringify(shown, null, 2) : asText(shown);
        if (outcome.error) detail.textContent = `${outcome.error.kind}: ${outcome.error.message}`;
        detail.hidden = false;
      }
    } catch (err) {
      message.textContent = `stopped following: ${describeError(err)}`;
    } finally {
      cancel.hidden = true;
    }
  }
}

/** A typed client error as one line, with the schema issues of `invalid_inputs`. */
function describeError(err: unknown): string {
  const e = err as {
    code?: string;
    message?: string;
    details?: { issues?: { path?: unknown; message?: string }[] };
  };
  if (!e.code) return String(err);
  const issues = e.details?.issues ?? [];
  const lines = issues.map(
    (i) => `• ${Array.isArray(i.path) ? i.path.join('.') : String(i.path ?? '')}: ${i.message}`,
  );
  return [`${e.code}: ${e.message}`, ...lines].join('\n');
}
