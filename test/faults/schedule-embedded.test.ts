import { it } from 'vitest';
import { faultSeed, passesShortSchedule } from '../support/faults/short-schedule.js';

/**
 * The embedded engine (one `wirehub serve`, SQLite data dir, its own task worker) under a
 * short seeded fault schedule: SIGKILL and SIGTERM restarts on the same data dir while
 * publishers keep hundreds of publications in flight, a slow consumer, a dropped connection,
 * task runs across the restarts. The checker's invariants are in test/support/faults/checker.ts;
 * a failure prints the seed (replay with WIREHUB_FAULT_SEED=<seed>) and the history excerpt.
 */
const seed = faultSeed(1);

it(`keeps every guarantee under the short fault schedule of seed ${seed}`, async () => {
  await passesShortSchedule('embedded', seed, { faults: ['kill', 'kill', 'term'], slow: true });
}, 180_000);
