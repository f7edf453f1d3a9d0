import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryEngine } from '../../src/engine/memory/memory-engine.js';
import { SqliteEngine } from '../../src/engine/sqlite/sqlite-engine.js';
import type { Engine } from '../../src/engine/types.js';
import { runEngineConformance } from '../support/engine-conformance.js';

const sweep = (engine: Engine, now: number) => (engine as MemoryEngine).sweep(now);

runEngineConformance(() => new MemoryEngine(), { name: 'memory', durable: false, sweep });

const dir = mkdtempSync(join(tmpdir(), 'wirehub-sqlite-'));
// One boot id for every engine on a file: a second engine opened on a file another one still
// has open takes it as a crash of the process in the same boot (epochs kept), on any OS.
runEngineConformance(
  (store) => new SqliteEngine({ file: join(dir, `${store}.db`), bootId: () => 'test-boot' }),
  {
    name: 'sqlite',
    durable: true,
    sweep,
  },
);
