import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorCatalog } from '../../src/protocol/index.js';
import { defineTask, isTaskDefinition, TaskDefinitionError } from '../../src/tasks/define-task.js';
import { resolveTaskModules, TaskModulesNotFoundError } from '../../src/tasks/module-files.js';
import { summarizeTask, TaskRegistry, TaskRegistryError } from '../../src/tasks/registry.js';
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
        // Unknown input keys are refused, and the schema says so.
        additionalProperties: false,
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

describe('error catalog', () => {
  it('has the task runner codes with their HTTP statuses', () => {
    expect(errorCatalog.unknown_task.status).toBe(404);
    expect(errorCatalog.unknown_run.status).toBe(404);
    expect(errorCatalog.invalid_inputs.status).toBe(400);
    expect(errorCatalog.run_finished.status).toBe(409);
    expect(errorCatalog.queue_full.status).toBe(503);
  });
});
