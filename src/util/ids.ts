import { randomBytes } from 'node:crypto';

/** A URL-safe random id with a short prefix, e.g. `c-3mA9xQ2pLk0b`. */
export function randomId(prefix: string, bytes = 9): string {
  return `${prefix}-${randomBytes(bytes).toString('base64url')}`;
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
