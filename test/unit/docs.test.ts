import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asyncApiYaml, buildAsyncApi } from '../../scripts/asyncapi.js';
import { errorsMarkdown } from '../../scripts/errors-doc.js';
import { CloseCode, errorCatalog, RT_OPS } from '../../src/protocol/index.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const version = (JSON.parse(read('package.json')) as { version: string }).version;

/** The rows of the markdown table under `## heading`: first cell → second cell. */
function tableUnder(markdown: string, heading: string): Map<string, string> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith(heading));
  if (!section) throw new Error(`no "## ${heading}" section`);
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const first = cells[1]?.replace(/`/g, '');
    if (!first || first === 'code' || /^-+$/.test(first)) continue;
    if (rows.has(first)) throw new Error(`${first} is listed twice`);
    rows.set(first, cells[2] ?? '');
  }
  return rows;
}

describe('docs/errors.md', () => {
  const doc = read('docs/errors.md');

  it('is generated from the error catalog and the close codes, and up to date', () => {
    const expected = errorsMarkdown();
    if (process.env.WIREHUB_WRITE_DOCS === '1') writeFileSync(new URL('docs/errors.md', root), expected);
    expect(doc, 'regenerate with WIREHUB_WRITE_DOCS=1 npx vitest run test/unit/docs.test.ts').toBe(expected);
  });

  it('lists exactly the error catalog, with the same HTTP statuses', () => {
    const listed = tableUnder(doc, 'Error codes');
    expect([...listed.keys()].sort()).toEqual(Object.keys(errorCatalog).sort());
    for (const [code, entry] of Object.entries(errorCatalog))
      expect(listed.get(code), code).toBe(String(entry.status));
  });

  it('lists exactly the close codes', () => {
    const listed = tableUnder(doc, 'Close codes');
    expect([...listed.keys()].map(Number).sort()).toEqual(Object.values(CloseCode).sort());
    for (const [name, code] of Object.entries(CloseCode)) expect(listed.get(String(code)), name).toBe(name);
  });
});

describe('docs/protocol.md', () => {
  const doc = read('docs/protocol.md');

  it('shows every command and every push with an example frame', () => {
    for (const op of RT_OPS) expect(doc, op).toContain(`{"op":"${op}","id":`);
    for (const op of ['reply', 'error', 'message', 'join', 'leave', 'run'])
      expect(doc, op).toContain(`{"op":"${op}",`);
  });
});

describe('docs/asyncapi.yaml', () => {
  it('is generated from the protocol schemas and up to date', () => {
    const expected = asyncApiYaml(version);
    if (process.env.WIREHUB_WRITE_DOCS === '1') writeFileSync(new URL('docs/asyncapi.yaml', root), expected);
    expect(
      read('docs/asyncapi.yaml'),
      'regenerate with WIREHUB_WRITE_DOCS=1 npx vitest run test/unit/docs.test.ts',
    ).toBe(expected);
  });

  it('describes every command and push as an AsyncAPI 3 message with a payload schema', () => {
    const spec = buildAsyncApi(version) as {
      asyncapi: string;
      components: {
        messages: Record<string, { payload: { $ref: string } }>;
        schemas: Record<string, { properties: { op: { const: string } } }>;
      };
    };
    expect(spec.asyncapi).toBe('3.0.0');
    const ops = Object.values(spec.components.messages).map((m) => {
      const schema = spec.components.schemas[m.payload.$ref.split('/').at(-1) ?? ''];
      return schema?.properties.op.const;
    });
    for (const op of [...RT_OPS, 'reply', 'error', 'message', 'join', 'leave', 'run'])
      expect(ops, op).toContain(op);
  });
});
