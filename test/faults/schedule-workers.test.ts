import { it } from 'vitest';
import { faultSeed, passesShortSchedule } from '../support/faults/short-schedule.js';

/**
 * `wirehub serve --workers 3` (one primary with the SQLite stores, three worker processes on one
 * port) under a short seeded fault schedule: SIGKILL of a worker (the primary restarts it; its
 * clients reconnect to the other workers and recover), SIGKILL of the whole server and a graceful
 * restart, on the same data dir, while publishers keep publications in flight. The checker's
 * invariants are in test/support/faults/checker.ts; a failure prints the seed (replay with
 * WIREHUB_FAULT_SEED=<seed>).
 */
// Seed 3 kills a worker and the whole server (twice) and drains it once.
const seed = faultSeed(3);

it(`keeps every guarantee under the short fault schedule of seed ${seed}`, async () => {
  await passesShortSchedule('workers-3', seed, { faults: ['kill', 'kill', 'kill', 'term'], slow: true });
}, 240_000);
