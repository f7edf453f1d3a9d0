import { z } from 'zod';
import { defineTask } from '../define-task.js';

/** Always fails with a user error: shows what a failed run looks like. */
export const fail = defineTask({
  project: 'demo',
  domain: 'development',
  name: 'fail',
  version: 'v1',
  description: 'Always fails with a user error carrying the given message.',
  inputs: z.object({ message: z.string().min(1).max(500).default('this task fails on purpose') }),
  run({ message }, ctx) {
    ctx.report('about to fail');
    throw new Error(message);
  },
});
