// Worker entry used only when wirehub runs from its TypeScript sources (the test suite under
// vitest): worker threads start as plain Node, which cannot import `.ts`. tsx's `register()`
// inside this thread teaches it (on Node 20 `--import tsx` in a worker's execArgv does not
// reach dynamic imports), then the real worker loads. The built package uses dist/…/worker.js
// directly and never needs tsx.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./worker.ts');

export default worker.default;
