import { el } from './dom.js';

/** The parts of a JSON Schema (as `GET /api/tasks` gives a task's inputs) the form reads. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  enum?: unknown[];
  description?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

/** Reads the form: the inputs object, or throws an Error naming the field that is wrong. */
export type FormReader = () => Record<string, unknown>;

function typeOf(schema: JsonSchema): string | undefined {
  if (schema.enum) return 'enum';
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  return t;
}

function hint(schema: JsonSchema): string {
  const parts: string[] = [];
  if (schema.minimum !== undefined || schema.maximum !== undefined) {
    parts.push(`${schema.minimum ?? '…'}–${schema.maximum ?? '…'}`);
  }
  if (schema.maxLength !== undefined) parts.push(`≤ ${schema.maxLength} chars`);
  if (schema.description) parts.push(schema.description);
  return parts.join(', ');
}

/**
 * Builds one field per top-level property of an object schema: number inputs for numbers
 * and integers (with their bounds), text for strings (a text area for long ones), a checkbox
 * for booleans, a select for enums, and JSON text for anything else. Defaults are filled in.
 * Returns the reader; an empty optional field is left out so the task's default applies.
 */
export function buildForm(container: HTMLElement, schema: JsonSchema): FormReader {
  container.replaceChildren();
  const readers: [string, () => unknown][] = [];
  const required = new Set(schema.required ?? []);
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const id = `input-${name}`;
    const label = el('label', { attrs: { for: id } }, name, ' ');
    const help = hint(prop);
    if (help) label.append(el('span', { className: 'muted', text: `(${help})` }));
    if (required.has(name)) label.append(' *');
    const kind = typeOf(prop);
    const optional = !required.has(name);
    let field: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
    let read: () => unknown;
    if (kind === 'integer' || kind === 'number') {
      const input = el('input', {
        attrs: { id, name, type: 'number', step: kind === 'integer' ? '1' : 'any' },
      });
      if (prop.minimum !== undefined) input.min = String(prop.minimum);
      if (prop.maximum !== undefined) input.max = String(prop.maximum);
      if (typeof prop.default === 'number') input.value = String(prop.default);
      read = () => {
        if (input.value.trim() === '') return optional ? undefined : Number.NaN;
        const n = Number(input.value);
        if (!Number.isFinite(n)) throw new Error(`${name}: not a number`);
        return n;
      };
      field = input;
    } else if (kind === 'boolean') {
      const input = el('input', { attrs: { id, name, type: 'checkbox' } });
      input.checked = prop.default === true;
      read = () => input.checked;
      field = input;
    } else if (kind === 'enum') {
      const values = prop.enum ?? [];
      const select = el('select', { attrs: { id, name } });
      values.forEach((v, i) => {
        select.append(el('option', { text: String(v), attrs: { value: String(i) } }));
        if (v === prop.default) select.value = String(i);
      });
      read = () => values[Number(select.value)];
      field = select;
    } else if (kind === 'string') {
      const long = prop.maxLength === undefined || prop.maxLength > 200;
      const input = long
        ? el('textarea', { attrs: { id, name, rows: '3' } })
        : el('input', { attrs: { id, name, type: 'text' } });
      if (typeof prop.default === 'string') input.value = prop.default;
      read = () => (input.value === '' && optional ? undefined : input.value);
      field = input;
    } else {
      const input = el('textarea', { attrs: { id, name, rows: '2', placeholder: 'JSON' } });
      if (prop.default !== undefined) input.value = JSON.stringify(prop.default);
      read = () => {
        if (input.value.trim() === '') return undefined;
        try {
          return JSON.parse(input.value) as unknown;
        } catch {
          throw new Error(`${name}: not valid JSON`);
        }
      };
      field = input;
    }
    container.append(label, field);
    readers.push([name, read]);
  }
  return () => {
    const inputs: Record<string, unknown> = {};
    for (const [name, read] of readers) {
      const value = read();
      if (value !== undefined) inputs[name] = value;
    }
    return inputs;
  };
}
