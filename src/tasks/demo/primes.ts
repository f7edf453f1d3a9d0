import { threadId } from 'node:worker_threads';
import { z } from 'zod';
import { defineTask } from '../define-task.js';

const SEGMENT = 1 << 16;

/** Primes up to `limit` by a plain sieve (only used for the small base set). */
function basePrimes(limit: number): number[] {
  const composite = new Uint8Array(limit + 1);
  const primes: number[] = [];
  for (let i = 2; i <= limit; i += 1) {
    if (composite[i]) continue;
    primes.push(i);
    for (let j = i * i; j <= limit; j += i) composite[j] = 1;
  }
  return primes;
}

/**
 * Counts the primes below `n` with a segmented sieve: CPU-heavy on purpose, with constant
 * memory. It runs on a worker thread, so sockets keep answering; `thread` in the outputs
 * says which one.
 */
export const primes = defineTask({
  project: 'demo',
  domain: 'development',
  name: 'primes',
  version: 'v1',
  description: 'Counts the primes below n (CPU-heavy, runs on a worker thread) with progress.',
  inputs: z.object({ n: z.number().int().min(2).max(10_000_000_000).default(50_000_000) }),
  outputs: z.object({ n: z.number().int(), count: z.number().int(), thread: z.number().int() }),
  run({ n }, ctx) {
    const limit = n - 1;
    const base = basePrimes(Math.floor(Math.sqrt(limit)));
    const mark = new Uint8Array(SEGMENT);
    const segments = Math.max(1, Math.ceil((limit - 1) / SEGMENT));
    const reportEvery = Math.max(1, Math.floor(segments / 20));
    let count = 0;
    let segment = 0;
    for (let low = 2; low <= limit; low += SEGMENT, segment += 1) {
      const high = Math.min(low + SEGMENT - 1, limit);
      mark.fill(0);
      for (const p of base) {
        if (p * p > high) break;
        for (let j = Math.max(p * p, Math.ceil(low / p) * p); j <= high; j += p) mark[j - low] = 1;
      }
      for (let i = 0; i <= high - low; i += 1) if (mark[i] === 0) count += 1;
      if (segment % reportEvery === 0) {
        ctx.report(`sieved up to ${high}: ${count} primes so far`, (segment / segments) * 100);
        ctx.signal.throwIfAborted();
      }
    }
    return { n, count, thread: threadId };
  },
});
