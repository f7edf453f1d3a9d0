import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorCatalog } from '../../src/protocol/index.js';
import { defineTask, isTaskDefinition, TaskDefinitionError } from '../../src/tasks/define-task.js';
import { resolveTaskModules, TaskModulesNotFoundError } from '../../src/tasks/module-files.js';
import { summarizeTask, TaskRegistry, TaskRegistryError } from '../../src/tasks/registry.js';
import { RunStore } from '../../src/tasks/runs/run-store.js';
import { canTransition, isTerminal } from '../../src/tasks/runs/state-machine.js';
import { RUN_STATUSES } from '../../src/tasks/runs/types.js';

const fixture = (dir: string) => fileURLToPath(new URL(`../fixtures/${dir}`, import.meta.url));

const spec = {
  project: 'p',
  domain: 'd',
  name: 'n',
  version: 'v1',
  inputs: z.object({}),
  run: () => ({}),
};

describe('defineTask', () => {
  it('returns a frozen, recognisable definition', () => {
    const task = defineTask(spec);
    expect(isTaskDefinition(task)).toBe(true);
    expect(Object.isFrozen(task)).toBe(true);
    expect(isTaskDefinition({ ...spec })).toBe(false);
  });

  it.each([
    [{ project: 'has space' }, /project/],
    [{ name: '' }, /name/],
    [{ version: 'latest' }, /reserved/],
    [{ version: 'x'.repeat(65) }, /version/],
    [{ inputs: { parse: () => 1 } }, /zod schema/],
    [{ outputs: 'nope' }, /outputs/],
    [{ timeoutMs: 0 }, /timeoutMs/],
    [{ timeoutMs: 1.5 }, /timeoutMs/],
    [{ retries: -1 }, /retries/],
    [{ retries: 11 }, /retries/],
    [{ run: 'nope' }, /run/],
  ])('rejects %j', (override, message) => {
    expect(() => defineTask({ ...spec, ...override } as never)).toThrow(TaskDefinitionError);
    expect(() => defineTask({ ...spec, ...override } as never)).toThrow(message);
  });
});

describe('TaskRegistry', () => {
  it('resolves exact versions and "latest" as the highest version, numerically', async () => {
    const registry = new TaskRegistry();
    const added = await registry.loadModule(join(fixture('tasks-versions'), 'versions.mjs'));
    expect(added.map((t) => t.definition.version).sort()).toEqual(['v10', 'v2', 'v9']);
    const ref = { project: 'test', domain: 'fixtures', name: 'versioned' };
    expect(registry.resolve({ ...ref, version: 'latest' })?.definition.version).toBe('v10');
    expect(registry.resolve({ ...ref, version: 'v9' })?.exportName).toBe('v9');
    expect(registry.resolve({ ...ref, version: 'v3' })).toBeUndefined();
    expect(registry.resolve({ ...ref, name: 'other', version: 'latest' })).toBeUndefined();
    expect(registry.list().map((t) => t.key)).toEqual([
      'test/fixtures/versioned@v2',
      'test/fixtures/versioned@v9',
      'test/fixtures/versioned@v10',
    ]);
  });

  it('refuses a task defined twice, naming both files', async () => {
    const registry = new TaskRegistry();
    const dir = fixture('tasks-dup');
    await registry.loadModule(join(dir, 'first.mjs'));
    const second = registry.loadModule(join(dir, 'second.mjs'));
    await expect(second).rejects.toThrow(TaskRegistryError);
    await expect(second).rejects.toThrow(
      `task test/fixtures/twin@v1 is defined twice: in ${join(dir, 'first.mjs')} (export twin) and in ${join(dir, 'second.mjs')} (export sameTask)`,
    );
    // Loading the same module again is not a duplicate.
    await expect(registry.loadModule(pathToFileURL(join(dir, 'first.mjs')))).resolves.toHaveLength(1);
  });

  it('reports a module that cannot be loaded with its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wirehub-tasks-'));
    const file = join(dir, 'broken.mjs');
    writeFileSync(file, 'export const x = ;\n');
    await expect(new TaskRegistry().loadModule(file)).rejects.toThrow(`cannot load task module ${file}`);
  });

  it('summarises a task with JSON Schemas of its inputs and outputs', () => {
    const registry = new TaskRegistry();
    const task = registry.add(
      defineTask({
        ...spec,
        description: 'd',
        timeoutMs: 5,
        retries: 2,
        inputs: z.object({ n: z.number().int().max(3).default(1) }),
        outputs: z.object({ ok: z.boolean() }),
        run: () => ({ ok: true }),
      }),
      'file:///x.js',
      'x',
    );
    expect(summarizeTask(task)).toEqual({
      project: 'p',
      domain: 'd',
      name: 'n',
      version: 'v1',
      ref: 'p/d/n@v1',
      description: 'd',
      timeout_ms: 5,
      retries: 2,
      inputs: {
        type: 'object',
        properties: { n: { type: 'integer', maximum: 3, default: 1, minimum: expect.any(Number) } },
      },
      outputs: {
        type: 'object',
        properties: { ok: { type: 'boolean' } },
        required: ['ok'],
        additionalProperties: false,
      },
    });
  });
});

describe('resolveTaskModules', () => {
  it('expands directories and globs, and refuses patterns that find nothing', async () => {
    const dir = fixture('tasks-dup');
    expect(await resolveTaskModules([dir])).toEqual([join(dir, 'first.mjs'), join(dir, 'second.mjs')]);
    expect(await resolveTaskModules(['tasks-dup/sec*.mjs'], fixture(''))).toEqual([join(dir, 'second.mjs')]);
    expect(await resolveTaskModules([join(dir, 'first.mjs'), dir])).toHaveLength(2);
    await expect(resolveTaskModules(['nothing/here/*.mjs'])).rejects.toThrow(TaskModulesNotFoundError);
  });
});

describe('run state machine', () => {
  it('never leaves a terminal status and allows the documented moves', () => {
    for (const from of RUN_STATUSES) {
      for (const to of RUN_STATUSES) {
        if (isTerminal(from)) expect(canTransition(from, to), `${from} -> ${to}`).toBe(false);
      }
    }
    expect(canTransition('QUEUED', 'INITIALIZING')).toBe(true);
    expect(canTransition('QUEUED', 'RUNNING')).toBe(false);
    expect(canTransition('QUEUED', 'SUCCEEDED')).toBe(false);
    expect(canTransition('INITIALIZING', 'RUNNING')).toBe(true);
    expect(canTransition('RUNNING', 'RUNNING')).toBe(true);
    expect(canTransition('RUNNING', 'QUEUED')).toBe(true);
    expect(canTransition('RUNNING', 'INITIALIZING')).toBe(false);
    expect(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'].every((s) => isTerminal(s as never))).toBe(true);
  });
});

describe('RunStore', () => {
  it('keeps runs and updates across reopening, and lists unfinished runs', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wirehub-runs-')), 'runs.db');
    const store = new RunStore(file);
    store.open();
    const base = {
      project: 'p',
      domain: 'd',
      task: 'n',
      version: 'v1',
      inputs: { a: 1 },
      max_attempts: 2,
      attempt: 1,
    };
    store.createRun({ ...base, run_id: 'r-1' });
    store.createRun({ ...base, run_id: 'r-2' });
    const at = new Date().toISOString();
    store.appendUpdate({ run_id: 'r-1', seq: 1, status: 'QUEUED', message: 'q', at }, {});
    store.appendUpdate(
      { run_id: 'r-1', seq: 2, status: 'RUNNING', message: 'r', at, progress: 40 },
      { started: true },
    );
    store.appendUpdate(
      { run_id: 'r-1', seq: 3, status: 'SUCCEEDED', message: 's', at, outputs: { ok: true } },
      { ended: true },
    );
    store.appendUpdate({ run_id: 'r-2', seq: 1, status: 'INITIALIZING', message: 'i', at }, { attempt: 2 });
    store.close();
    const again = new RunStore(file);
    again.open();
    expect(again.getRun('r-1')).toMatchObject({
      status: 'SUCCEEDED',
      progress: 40,
      outputs: { ok: true },
      seq: 3,
      inputs: { a: 1 },
      started_at: at,
      ended_at: at,
    });
    expect(again.updates('r-1').map((u) => u.status)).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(again.updates('r-1', 2)).toHaveLength(1);
    expect(again.listActive().map((r) => [r.run_id, r.status, r.attempt])).toEqual([
      ['r-2', 'INITIALIZING', 2],
    ]);
    expect(again.getRun('r-3')).toBeUndefined();
    again.close();
  });
});

describe('RunStore schema 2', () => {
  it('adds who started a run to a schema-1 file on open, keeping its runs', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wirehub-runs-')), 'runs.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE runs (
      id TEXT PRIMARY KEY, project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL,
      version TEXT NOT NULL, inputs TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
      progress REAL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, outputs TEXT, error TEXT,
      seq INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
      started_at INTEGER, ended_at INTEGER)`);
    old.exec(`INSERT INTO runs VALUES ('r-old', 'p', 'd', 'n', 'v1', '{}', 'QUEUED', '', NULL, 1, 1,
      NULL, NULL, 0, 1, 1, NULL, NULL)`);
    old.pragma('user_version = 1');
    old.close();

    const store = new RunStore(file);
    store.open();
    expect(store.getRun('r-old')).toMatchObject({ run_id: 'r-old', status: 'QUEUED' });
    expect(store.getRun('r-old')).not.toHaveProperty('user');
    const base = {
      project: 'p',
      domain: 'd',
      task: 'n',
      version: 'v1',
      inputs: {},
      attempt: 1,
      max_attempts: 1,
    };
    store.createRun({ ...base, run_id: 'r-new', user: 'alice', quotaKey: 'runs:user:alice' });
    expect(store.getRun('r-new')).toMatchObject({ user: 'alice' });
    // The slot key stays internal: only the restart path sees it.
    expect(store.getRun('r-new')).not.toHaveProperty('quotaKey');
    expect(store.listActive().map((r) => [r.run_id, r.quotaKey])).toEqual([
      ['r-old', undefined],
      ['r-new', 'runs:user:alice'],
    ]);
    expect(store.list({ limit: 10, user: 'alice' }).map((r) => r.run_id)).toEqual(['r-new']);
    expect(store.list({ limit: 10, tasks: [] })).toEqual([]);
    store.close();
    const reopened = new Database(file);
    expect(reopened.pragma('user_version', { simple: true })).toBe(2);
    reopened.close();
  });
});

describe('error catalog', () => {
  it('has the task runner codes with their HTTP statuses', () => {
    expect(errorCatalog.unknown_task.status).toBe(404);
    expect(errorCatalog.unknown_run.status).toBe(404);
    expect(errorCatalog.invalid_inputs.status).toBe(400);
    expect(errorCatalog.run_finished.status).toBe(409);
    expect(errorCatalog.queue_full.status).toBe(503);
  });
});
