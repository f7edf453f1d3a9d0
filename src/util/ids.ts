import { randomBytes } from 'node:crypto';

/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time: one call per connection cost
 * several percent of the CPU of a connect+close cycle (bench: `churn`), a pool slice is free.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** A URL-safe random id with a short prefix, e.g. `c-3mA9xQ2pLk0b`. */
export function randomId(prefix: string, bytes = 9): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes));
    offset = 0;
  }
  // Joined, not concatenated: a concatenation is a rope (JSC) or cons string (V8) that keeps
  // both parts for the id's life, one string more per open connection (31 bytes on Bun).
  const id = [prefix, pool.toString('base64url', offset, offset + bytes)].join('-');
  offset += bytes;
  return id;
}

/**
 * Cheap unique ids for hot paths: one random node prefix plus a counter, so minting an id
 * costs no syscall or crypto call.
 */
export class IdSequence {
  private next = 0;
  constructor(readonly prefix: string) {}
  mint(): string {
    this.next += 1;
    return `${this.prefix}.${this.next.toString(36)}`;
  }
}
