import { z } from 'zod';
import { defineTask } from '../define-task.js';

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;

/** Counts the words of a text and returns the most frequent ones. */
export const wordCount = defineTask({
  project: 'demo',
  domain: 'development',
  name: 'word-count',
  version: 'v1',
  description: 'Counts the words of a text (case-insensitive) and lists the most frequent ones.',
  inputs: z.object({
    text: z.string().max(1_000_000),
    top: z.number().int().min(1).max(100).default(10),
  }),
  outputs: z.object({
    total: z.number().int(),
    unique: z.number().int(),
    top: z.array(z.object({ word: z.string(), count: z.number().int() })),
  }),
  run({ text, top }, ctx) {
    const counts = new Map<string, number>();
    let total = 0;
    for (const match of text.toLowerCase().matchAll(WORD)) {
      total += 1;
      counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
    }
    ctx.report(`counted ${total} words`, 90);
    const ranked = [...counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, top)
      .map(([word, count]) => ({ word, count }));
    return { total, unique: counts.size, top: ranked };
  },
});
