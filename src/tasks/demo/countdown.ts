import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineTask } from '../define-task.js';

/** Counts down from `n`, one step per `delayMs`, reporting progress at each step. */
export const countdown = defineTask({
  project: 'demo',
  domain: 'development',
  name: 'countdown',
  version: 'v1',
  description: 'Counts down from n to zero, one step every delayMs, with progress.',
  inputs: z.object({
    n: z.number().int().min(1).max(1000).default(5),
    delayMs: z.number().int().min(0).max(10_000).default(1000),
  }),
  outputs: z.object({ counted: z.number().int(), message: z.string() }),
  async run({ n, delayMs }, ctx) {
    for (let left = n; left > 0; left -= 1) {
      ctx.report(`${left}…`, ((n - left) / n) * 100);
      await sleep(delayMs, undefined, { signal: ctx.signal });
    }
    ctx.report('liftoff', 100);
    return { counted: n, message: 'liftoff' };
  },
});
