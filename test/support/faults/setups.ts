import { EmbeddedSetUp } from './embedded-setup.js';
import { RedisSetUp } from './redis-setup.js';
import type { SetUp } from './setup.js';
import { WorkersSetUp } from './workers-setup.js';

/**
 * Every deployment the fault schedules run against, by name. A new one is one more entry:
 * a class implementing `SetUp`.
 */
export const SETUPS: Record<string, () => SetUp> = {
  embedded: () => new EmbeddedSetUp(),
  'redis-2-nodes-none': () => new RedisSetUp(2, 'none'),
  'redis-2-nodes-aof-always': () => new RedisSetUp(2, 'aof-always'),
  'redis-3-nodes-none': () => new RedisSetUp(3, 'none'),
  'redis-3-nodes-aof-everysec': () => new RedisSetUp(3, 'aof-everysec'),
  'workers-3': () => new WorkersSetUp(3),
};

export function makeSetUp(name: string): SetUp {
  const make = SETUPS[name];
  if (!make) throw new Error(`no set-up ${name}; there are: ${Object.keys(SETUPS).join(', ')}`);
  return make();
}
