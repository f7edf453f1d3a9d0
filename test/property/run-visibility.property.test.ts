import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permissions } from '../../src/hub/permissions.js';
import type { Principal } from '../../src/hub/principal.js';
import { maySeeRun, visibleRunsQuery } from '../../src/tasks/runs/run-access.js';
import { RunStore } from '../../src/tasks/runs/run-store.js';
import type { RunRecord } from '../../src/tasks/runs/types.js';

// Names and patterns from a small alphabet that includes SQLite GLOB's own special characters,
// so a pattern piece that escaped badly would show up as a disagreement.
const chars = fc.constantFrom('a', 'b', '.', '-', '?', '[', ']', '*', '^');
const name = fc.string({ unit: chars, minLength: 1, maxLength: 3 });
const users = ['alice', 'bob', 'a*b', '[x]'];
const user = fc.option(fc.constantFrom(...users), { nil: undefined });
const pattern = fc.oneof(
  fc.string({ unit: fc.oneof(chars, fc.constant('/')), maxLength: 6 }),
  fc.constantFrom('*', 'a/*', '*/b/*', '{user}/*', '*{user}*', 'a/a/a'),
);

let store: RunStore;
let runs: RunRecord[];

beforeAll(() => {
  store = new RunStore(':memory:');
  store.open();
  const sample = fc.sample(fc.tuple(name, name, name, user), { numRuns: 400, seed: 7 });
  sample.forEach(([project, domain, task, owner], i) => {
    store.createRun({
      run_id: `r-${i}`,
      project,
      domain,
      task,
      version: 'v1',
      inputs: {},
      attempt: 1,
      max_attempts: 1,
      ...(owner === undefined ? {} : { user: owner }),
    });
  });
  runs = store.list({ limit: 1000 });
  expect(runs).toHaveLength(400);
});

afterAll(() => store.close());

function principal(grants: { tasks: string[]; allRuns: boolean }, who: string | undefined): Principal {
  return {
    user: who,
    method: 'jwt',
    claims: {},
    expiresAt: undefined,
    permissions: new Permissions(grants, who),
  };
}

describe('run visibility', () => {
  it('the SQL filter of GET /api/runs lists exactly the runs maySeeRun allows', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 4 }), fc.boolean(), user, (tasks, allRuns, who) => {
        const p = principal({ tasks, allRuns }, who);
        const query = visibleRunsQuery(p, { limit: 1000 });
        const listed = query ? store.list(query).map((r) => r.run_id) : [];
        const expected = runs.filter((r) => maySeeRun(p, r)).map((r) => r.run_id);
        expect(listed).toEqual(expected);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
